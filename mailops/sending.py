"""The one way application code sends mail: record an OutboundMessage, enqueue its send task.

`send_mail(["rita@example.com"], "Your ticket #12", body, kind="helpdesk.reply")`; the task
(mailops.tasks.send_message, under the queue retry policy) drops and records suppressed
recipients, sends the rest and records Mailgun's message id and the status.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from email.utils import parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from mailops.models import OutboundMessage

log = logging.getLogger(__name__)


class InvalidRecipient(ValueError):
    """An address the send API refuses before anything is stored."""


def clean_addresses(addresses: Iterable[str]) -> list[str]:
    """The addresses as given (display names allowed), refusing any that is not an address."""
    cleaned = []
    for raw in addresses:
        text = (raw or "").strip()
        _name, addr = parseaddr(text)
        try:
            validate_email(addr)
        except ValidationError:
            raise InvalidRecipient(f"not an email address: {text!r}") from None
        if text not in cleaned:
            cleaned.append(text)
    return cleaned


def send_mail(
    to: Sequence[str] | str,
    subject: str,
    body: str,
    *,
    html: str = "",
    from_email: str | None = None,
    kind: str = "",
    tags: Sequence[str] = (),
) -> OutboundMessage:
    """Record the message and enqueue its sending once the current transaction commits."""
    recipients = clean_addresses([to] if isinstance(to, str) else to)
    if not recipients:
        raise InvalidRecipient("a message needs at least one recipient")
    subject = " ".join((subject or "").split())  # one line: a header must not fold or inject
    message = OutboundMessage.objects.create(
        kind=kind[:100],
        from_email=from_email or settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        subject=subject[:998],
        body=body,
        html=html,
        tags=list(tags),
        task_id=str(uuid.uuid4()),
    )
    transaction.on_commit(lambda: enqueue(message))
    return message


def enqueue(message: OutboundMessage) -> None:
    """Hand the message to the broker; if that fails it is marked failed, never left queued."""
    from mailops.tasks import send_message

    try:
        send_message.apply_async(args=[message.pk], task_id=message.task_id)
    except Exception as error:
        log.error("mail #%s could not be enqueued: %s", message.pk, type(error).__name__)
        OutboundMessage.objects.filter(pk=message.pk, status=OutboundMessage.Status.QUEUED).update(
            status=OutboundMessage.Status.FAILED, error=f"could not be enqueued: {type(error).__name__}"
        )
