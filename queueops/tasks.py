"""The queueops tasks: the probe's canaries and the backlog check."""

from __future__ import annotations

import time

from celery import shared_task

from queueops.policy import policy_task


@policy_task(name="queueops.probe")
def probe(sent_at: float) -> dict:
    """The canary of `queue_probe`: says when it ran."""
    return {"sent_at": sent_at, "ran_at": time.time()}


class ProbeFailure(Exception):
    """Raised on purpose by `queue_probe --fail`'s canary."""


@policy_task(name="queueops.probe_fail")
def probe_fail(sent_at: float) -> None:
    """The failing canary of `queue_probe --fail`: fails every attempt, ends as a FailedJob."""
    raise ProbeFailure(f"queue_probe --fail canary sent at {sent_at:.3f}")


# Periodic, so under the policy too; its one retry comes well before the next minute's run.
@policy_task(name="queueops.check_backlog", ignore_result=True, tries=2, backoff=(10,))
def check_backlog() -> dict:
    """Backlog alerts (queueops.backlog.check); the scheduler runs it every minute."""
    from queueops.backlog import check

    return check()


@shared_task(name="queueops.wait_canary", ignore_result=True)
def wait_canary(queue: str, sent_at: float) -> None:
    """The backlog check's canary on RabbitMQ (queueops.canary): marks itself answered."""
    from queueops.canary import answered

    answered(queue, sent_at)
