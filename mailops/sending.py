"""The one way application code sends mail: record an OutboundMessage, enqueue its send task.

    from mailops.sending import send_mail

    send_mail(["rita@example.com"], "Your ticket #12", body, kind="helpdesk.reply")

The task (mailops.tasks.send_message) runs under the queue retry policy. It drops suppressed
recipients (each recorded as a `suppressed` MailEvent), sends the rest through the configured
backend (Anymail's Mailgun in production) and records Mailgun's message id and the status.

The row is written in the caller's transaction and published after its commit. Until the broker
has taken it, its `task_id` is empty (pending): a publish the broker refused, or one a process
died before, is made again by the `mailops.republish_pending` job a minute later. The row names
the one publish that may send it (mailops.delivery), so a message published twice is sent once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import timedelta
from email.utils import parseaddr

from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

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
    )
    transaction.on_commit(lambda: enqueue(message))
    return message


def enqueue(message: OutboundMessage) -> bool:
    """Hand the message to the broker, then name that publish on its row; False if the broker
    refused it (the row stays pending, for `republish_pending`)."""
    task_id = str(uuid.uuid4())
    try:
        current_app.send_task("mailops.send_message", args=[message.pk], task_id=task_id)
    except Exception as error:
        log.warning("mail #%s waits for the broker: %s", message.pk, type(error).__name__)
        return False
    OutboundMessage.objects.filter(pk=message.pk, task_id="").update(task_id=task_id)
    return True


def republish_pending(after: timedelta = timedelta(minutes=1)) -> int:
    """Publish again every message still pending `after` its row was written; how many went.
    The first refusal ends the run: the broker is still away, and the next run tries again."""
    pending = OutboundMessage.objects.filter(
        status=OutboundMessage.Status.QUEUED, task_id="", created_at__lte=timezone.now() - after
    )
    published = 0
    for message in pending.only("pk").order_by("pk"):
        if not enqueue(message):
            break
        published += 1
    return published
