"""Storing tracking events from Anymail: one MailEvent per event id, suppression applied with it.

Called by the `mailops.store_event` task (or by mailops.receivers when the broker refuses it).
One transaction per store, and the event id is unique: any redelivery or retry either finds
nothing stored and processes the event in full, or finds it stored and does nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from mailops import suppression
from mailops.models import MailEvent, OutboundMessage

log = logging.getLogger(__name__)

# Metadata key the send task gives every message (Mailgun hands it back as a user-variable).
OUTBOUND_ID = "outbound_id"
MAX_KEY = 2**63 - 1  # the largest BigAutoField (DEFAULT_AUTO_FIELD) value


def _payload(esp_event) -> dict:
    """What of Mailgun's post is worth keeping: the event data, never the signature block."""
    if isinstance(esp_event, dict):
        data = esp_event.get("event-data")
        return data if isinstance(data, dict) else {}
    try:  # a legacy form post (QueryDict)
        return {
            key: values[-1]
            for key, values in esp_event.lists()
            if key not in ("signature", "token", "timestamp")
        }
    except AttributeError:
        return {}


def _outbound_id(event) -> int | None:
    """The message the event is about, as our metadata names it (no query: the post is signed,
    and the foreign key refuses an id that does not exist, see `store`)."""
    try:
        outbound_id = int((event.metadata or {}).get(OUTBOUND_ID))
    except (TypeError, ValueError):
        return None
    # Past the key column's range (BigAutoField) the INSERT is a DataError, not the IntegrityError
    # that keeps the event unlinked: the event would never be stored.
    return outbound_id if 0 < outbound_id <= MAX_KEY else None


def _insert(row: MailEvent) -> None:
    if row.event_type in suppression.CONSIDERED:
        with transaction.atomic():
            row.save(force_insert=True)
            suppression.apply(row)
    else:
        # Most events (delivered, opened) change nothing else: one INSERT, atomic by itself,
        # saves the three round trips of a transaction.
        row.save(force_insert=True)


_TIMES = ("occurred_at", "received_at")


def fields_of(event) -> dict:
    """An AnymailTrackingEvent as the MailEvent columns it fills, JSON-serialisable (times as ISO)."""
    esp_payload = _payload(event.esp_event)
    recipient = (event.recipient or "")[:320]
    return {
        "event_id": event.event_id,
        "event_type": event.event_type or MailEvent.Type.UNKNOWN,
        "esp_event": str(esp_payload.get("event", ""))[:64],
        "recipient": recipient,
        "message_id": (event.message_id or "")[:255],
        "outbound_id": _outbound_id(event),
        "reject_reason": event.reject_reason or "",
        "description": event.description or "",
        "mta_response": event.mta_response or "",
        "occurred_at": (event.timestamp or timezone.now()).isoformat(),
        "received_at": timezone.now().isoformat(),
        "payload": esp_payload,
    }


def store(fields: dict) -> tuple[MailEvent, bool]:
    """Store one event (`fields_of`'s output, as a task's argument brings it back); returns the
    MailEvent and False if it was stored already."""
    row = MailEvent(**{**fields, **{name: datetime.fromisoformat(fields[name]) for name in _TIMES}})
    if row.outbound_id is None and row.message_id:
        # Our metadata did not link it: find its message by Mailgun's id. Done here, where the
        # row is stored (the worker), so that the webhook needs no database.
        linked = OutboundMessage.objects.filter(message_id=row.message_id).order_by("pk")
        row.outbound_id = linked.values_list("pk", flat=True).first()
    try:
        _insert(row)
    except IntegrityError:
        existing = MailEvent.objects.filter(event_id=row.event_id).first()
        if existing is not None:
            log.info("mail event %s (%s) was stored already; ignored", row.event_id, row.event_type)
            return existing, False
        if row.outbound_id is None:
            raise  # not a duplicate, not a missing message: let the webhook fail and Mailgun retry
        # The message the metadata names is gone (deleted): keep the event, unlinked.
        row.pk, row.outbound_id = None, None
        _insert(row)
    return row, True
