"""Celery tasks of mailops: sending one message, storing a webhook event, keeping the credential
check warm, pruning history."""

from __future__ import annotations

from django.db import DataError, IntegrityError

from mailops import credentials, delivery, recording, retention, sending
from queueops.policy import PolicyTask, policy_task


class MailTask(PolicyTask):
    """The retry policy, plus: when the last attempt fails, the OutboundMessage says so."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        # Celery calls this once the task has failed for good (never for a retry), including a
        # delivery the policy refuses because its worker was lost on the last attempt.
        outbound_id = args[0] if args else kwargs.get("outbound_id")
        if outbound_id is not None:
            delivery.mark_failed(outbound_id, exc)
        super().on_failure(exc, task_id, args, kwargs, einfo)


@policy_task(name="mailops.send_message", base=MailTask, bind=True)
def send_message(self, outbound_id: int) -> str | None:
    message = delivery.deliver(outbound_id, getattr(self.request, "attempt", 1) or 1, self.request.id)
    return message.status if message else None


# A database outage is retried for several minutes (a failover's length), so its events are
# stored once it is over; an event the database refuses as it is (bad data) would be refused
# every time, so it fails at once. Either way a last failure leaves a FailedJob holding the event.
# No result is stored: nothing reads it, and on Mailgun's busiest path it would be one more write.
@policy_task(
    name="mailops.store_event",
    ignore_result=True,
    tries=6,
    backoff=(5, 30, 60, 120, 300),
    permanent_errors=(DataError, IntegrityError, KeyError, TypeError, ValueError),
)
def store_event(fields: dict) -> bool:
    """Store one tracking event the webhook accepted (mailops.receivers); True if new.

    Its retries and, in the end, its FailedJob (args: the event's fields) keep the event; a
    redelivery after a worker died mid-store finds the event stored, or nothing of it.
    """
    _, new = recording.store(fields)
    return new


@policy_task(name="mailops.republish_pending", tries=1)
def republish_pending() -> int:
    """Publish the mail the broker has not taken yet (down when its row was committed)."""
    return sending.republish_pending()


@policy_task(name="mailops.refresh_credentials", tries=1)
def refresh_credentials() -> str:
    """Ask Mailgun about the sender domain now, cache the answer, alert on a failing one."""
    verdict = credentials.refresh_and_alert()
    return verdict.status


@policy_task(name="mailops.prune_history", tries=1)
def prune_history() -> dict[str, int]:
    """Delete MailEvents and OutboundMessages older than MAIL_RETENTION_DAYS."""
    return retention.prune()
