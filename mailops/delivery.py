"""Sending one recorded OutboundMessage: drop suppressed recipients, send, record the outcome."""

from __future__ import annotations

import logging
from email.utils import parseaddr

from anymail.exceptions import AnymailAPIError, AnymailInvalidAddress, AnymailRecipientsRefused
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from mailops.models import MailEvent, OutboundMessage, address_key
from mailops.recording import OUTBOUND_ID
from mailops.suppression import suppressed_keys
from queueops.policy import PermanentError

log = logging.getLogger(__name__)

ERROR_LIMIT = 2000
# Mailgun answers these for a request that may succeed later; any other 4xx will not.
RETRYABLE_4XX = {408, 409, 425, 429}


class PermanentMailError(PermanentError):
    """Mailgun refused the message itself (bad address, bad request): retrying cannot help."""


def _record_suppressed(message: OutboundMessage, recipients: list[str]) -> None:
    for recipient in recipients:
        address = _addr(recipient)
        event = MailEvent(
            event_id=f"suppressed:{message.pk}:{address_key(address)}"[:255],
            event_type=MailEvent.Type.SUPPRESSED,
            recipient=address,
            message_id=message.message_id,
            outbound=message,
            description="on the suppression list; not sent",
        )
        # One per message and address (the unique event id), so a retried task does not record it
        # twice; through save(), not bulk_create, so /metrics counts each stored one once.
        try:
            with transaction.atomic():
                event.save(force_insert=True)
        except IntegrityError:
            pass


def _addr(recipient: str) -> str:
    return parseaddr(recipient)[1] or recipient


def deliver(outbound_id: int, attempt: int = 1, task_id: str | None = None) -> OutboundMessage | None:
    """Send the message unless it was already; returns it, or None when it no longer exists.

    `task_id` (the send task's) claims a pending message, or a failed one a retried FailedJob
    sends again, in one UPDATE; a task the row does not name is a second publish of the same
    message (mailops.sending.republish_pending) and sends nothing.
    """
    if task_id is not None:
        OutboundMessage.objects.filter(
            Q(task_id="", status=OutboundMessage.Status.QUEUED) | Q(status=OutboundMessage.Status.FAILED),
            pk=outbound_id,
        ).update(task_id=task_id, status=OutboundMessage.Status.SENDING)
    message = OutboundMessage.objects.filter(pk=outbound_id).first()
    if message is None:
        log.warning("mail #%s is gone; nothing to send", outbound_id)
        return None
    if task_id is not None and message.task_id != task_id:
        log.info("mail #%s is another task's (%s); not sending it twice", message.pk, message.task_id)
        return message
    if message.status in (OutboundMessage.Status.SENT, OutboundMessage.Status.SUPPRESSED):
        return message  # a redelivered task: sending again would duplicate the mail
    blocked = suppressed_keys(_addr(r) for r in message.to)
    suppressed = [r for r in message.to if address_key(_addr(r)) in blocked]
    remaining = [r for r in message.to if address_key(_addr(r)) not in blocked]
    _record_suppressed(message, suppressed)
    message.recipients = remaining
    message.attempts = attempt
    if not remaining:
        message.status = OutboundMessage.Status.SUPPRESSED
        message.save(update_fields=["recipients", "attempts", "status", "updated_at"])
        log.info("mail #%s not sent: every recipient is suppressed", message.pk)
        return message
    message.status = OutboundMessage.Status.SENDING
    message.save(update_fields=["recipients", "attempts", "status", "updated_at"])

    email = EmailMultiAlternatives(message.subject, message.body, message.from_email, remaining)
    if message.html:
        email.attach_alternative(message.html, "text/html")
    # Anymail passes these to Mailgun (user-variables and tags); webhooks bring them back.
    email.metadata = {OUTBOUND_ID: str(message.pk)}
    email.tags = list(message.tags)[:3]
    try:
        email.send()
    except (AnymailInvalidAddress, AnymailRecipientsRefused) as error:
        _note_error(message, error)
        raise PermanentMailError(f"{type(error).__name__}: recipients refused") from None
    except AnymailAPIError as error:
        _note_error(message, error)
        status = error.status_code
        if status is not None and 400 <= status < 500 and status not in RETRYABLE_4XX:
            raise PermanentMailError(f"Mailgun refused the message: HTTP {status}") from None
        raise
    except Exception as error:
        _note_error(message, error)
        raise
    status = getattr(email, "anymail_status", None)
    message.message_id = (getattr(status, "message_id", None) or "")[:255]
    message.status = OutboundMessage.Status.SENT
    message.sent_at = timezone.now()
    message.error = ""
    message.save(update_fields=["message_id", "status", "sent_at", "error", "updated_at"])
    log.info("mail #%s sent to %d recipient(s) as %s", message.pk, len(remaining), message.message_id or "-")
    return message


def _note_error(message: OutboundMessage, error: Exception) -> None:
    text = f"{type(error).__name__}: {error}"[:ERROR_LIMIT]
    OutboundMessage.objects.filter(pk=message.pk).update(error=text, updated_at=timezone.now())


def mark_failed(outbound_id: int, error: BaseException) -> None:
    """The last attempt failed: the message is `failed`, with the reason, and that is logged."""
    text = f"{type(error).__name__}: {error}"[:ERROR_LIMIT]
    updated = OutboundMessage.objects.filter(pk=outbound_id).exclude(status=OutboundMessage.Status.SENT)
    if updated.update(status=OutboundMessage.Status.FAILED, error=text, updated_at=timezone.now()):
        log.error("mail #%s failed for good: %s", outbound_id, type(error).__name__)
