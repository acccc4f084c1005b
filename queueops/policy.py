"""The retry policy of application tasks: total tries, backoff waits, permanent errors, FailedJob.

Declare a task with the decorator or the base class; both take the same options:

    from queueops.policy import PermanentError, PolicyTask, policy_task

    @policy_task(name="mail.send", tries=5, backoff=(5, 60), permanent_errors=(InvalidAddress,))
    def send(message_id): ...

    @shared_task(base=PolicyTask, name="backups.run")
    def run_backup(): ...

`tries` and `backoff` default to QUEUE_TRIES and QUEUE_BACKOFF (docs/PRODUCTION_ENV.md: how they
count); how attempts are counted and failures recorded: docs/ARCHITECTURE.md "Queue operations".
`PermanentError` (or a subclass) and any of the task's `permanent_errors` fail at once, as does a
delivery past the last attempt (`AttemptsExhausted`). Inside a bound task the attempt number is
`self.request.attempt`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from celery import Task, shared_task
from celery.exceptions import TaskPredicate
from django.conf import settings

from queueops import attempt_counter
from queueops.attempt_counter import ATTEMPTS_HEADER
from queueops.broker import sent_to

log = logging.getLogger(__name__)

__all__ = ["AttemptsExhausted", "PermanentError", "PolicyTask", "policy_task", "wait_after"]


class PermanentError(Exception):
    """Raise it (or a subclass) from a task that retrying cannot help: no further attempts."""


class AttemptsExhausted(Exception):
    """The last attempt was lost with its worker (killed mid-task): no attempt is left."""


def wait_after(attempt: int, backoff: Sequence[float]) -> float:
    """Seconds to wait after attempt `attempt` (1-based) failed: backoff[min(n - 1, last)]."""
    if not backoff:
        return 0.0
    return float(backoff[min(attempt - 1, len(backoff) - 1)])


class PolicyTask(Task):
    """Base class of tasks under the retry policy (see the module docstring)."""

    #: Total attempts; None: settings.QUEUE_TRIES.
    tries: int | None = None
    #: Waits in seconds after each failed attempt; None: settings.QUEUE_BACKOFF.
    backoff: Sequence[float] | None = None
    #: Exceptions that fail the job at once, besides PermanentError.
    permanent_errors: tuple[type[BaseException], ...] = ()
    # The policy decides when to stop; Celery's own cap (3 retries) would cut it short.
    max_retries = None

    def policy(self) -> tuple[int, tuple[float, ...]]:
        tries = settings.QUEUE_TRIES if self.tries is None else self.tries
        backoff = settings.QUEUE_BACKOFF if self.backoff is None else self.backoff
        return max(1, int(tries)), tuple(backoff)

    def __call__(self, *args, **kwargs):
        request = self.request
        if request.called_directly:  # a plain function call, not a delivery
            return super().__call__(*args, **kwargs)
        tries, backoff = self.policy()
        attempt = request.attempt = attempt_counter.begin(request, backoff, self.app)
        return self._attempt(request, attempt, tries, backoff, args, kwargs)

    def _attempt(self, request, attempt: int, tries: int, backoff: tuple[float, ...], args, kwargs):
        if attempt > tries:
            exc = AttemptsExhausted(
                f"attempt {attempt - 1} of {tries} was lost with its worker before it finished; "
                "no attempt is left"
            )
            self._record(request, exc, attempts=tries, traceback="")
            raise exc
        try:
            return self.run(*args, **kwargs)
        except TaskPredicate:  # the task's own retry(), Ignore, Reject
            raise
        except Exception as exc:
            permanent = isinstance(exc, (PermanentError, *self.permanent_errors))
            if permanent or attempt >= tries:
                self._record(request, exc, attempts=attempt)
                raise
            wait = wait_after(attempt, backoff)
            failed = (self.name, request.id, attempt, tries, type(exc).__name__, wait)
            log.warning("task %s[%s] attempt %d of %d failed (%s); next in %g s", *failed)
            # Named, the queue keeps the retry: from the delivered exchange and routing key alone,
            # Celery's native delayed delivery (RabbitMQ) routes the countdown by the default
            # queue's key, and a retry from any other queue never comes back. The key a countdown
            # delivered is not a queue's name: sent_to() gives the one it was sent with.
            queue = sent_to(request.delivery_info)[1] or None
            # The delivery's own headers go along (a periodic run's job name and slot, the request
            # id): Celery's retry() would replace them with the attempts header alone. The
            # broker's (x-death, x-delivery-count) describe this delivery, not the next.
            own = {k: v for k, v in (request.headers or {}).items() if not k.startswith("x-")}
            headers = {**own, ATTEMPTS_HEADER: attempt}
            raise self.retry(exc=exc, countdown=wait, queue=queue, headers=headers) from None

    def _record(self, request, exc, attempts: int, traceback: str | None = None) -> None:
        from queueops.failed import record_failure  # the models, once the app registry is ready

        try:
            record_failure(self, request, exc, attempts=attempts, traceback=traceback)
        except Exception:
            log.exception(
                "task %s[%s] failed but could not be recorded as a failed job", self.name, request.id
            )


def policy_task(fun=None, **options):
    """`shared_task` with PolicyTask as the base: `@policy_task` or `@policy_task(name=..., tries=...)`."""
    options.setdefault("base", PolicyTask)
    return shared_task(**options) if fun is None else shared_task(**options)(fun)
