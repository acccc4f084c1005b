"""Storing a tracking event from Anymail: one MailEvent per event id, suppression applied with it.

Both happen in one transaction (an event that cannot suppress is a single INSERT): a crash
between them rolls both back, the webhook answers 5xx, and Mailgun's retry finds nothing
stored and is processed in full, once. Rows are written out (opsproject.fast_insert), not
saved through the ORM: its per-save work was the largest part of the webhook's own cost
(bench/webhook.py).
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from mailops import suppression
from mailops.models import MailEvent, OutboundMessage, address_key
from opsproject.fast_insert import insert_one

log = logging.getLogger(__name__)

# Metadata key the send task gives every message (Mailgun hands it back as a user-variable).
OUTBOUND_ID = "outbound_id"


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
    """The message the event is about: named by our metadata, else found by Mailgun's id.

    The metadata id is trusted without a query (the post is signed, and the foreign key
    refuses an id that does not exist, see `record`): the busiest path stays one INSERT.
    """
    try:
        return int((event.metadata or {}).get(OUTBOUND_ID))
    except (TypeError, ValueError):
        pass
    if event.message_id:
        return (
            OutboundMessage.objects.filter(message_id=event.message_id).values_list("pk", flat=True).first()
        )
    return None


def _insert(row: MailEvent) -> None:
    if row.event_type in suppression.CONSIDERED:
        with transaction.atomic():
            insert_one(row)
            suppression.apply(row)
    else:
        # Most events (delivered, opened) change nothing else: one INSERT, atomic by itself,
        # saves the three round trips of a transaction.
        insert_one(row)


def _store(row: MailEvent) -> tuple[MailEvent, bool]:
    """The stored row, and False if its event was stored already."""
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


def record(event) -> tuple[MailEvent, bool]:
    """Store an AnymailTrackingEvent; returns the MailEvent and False if it was stored already.

    Returns once the row is committed, so the webhook's 200 means stored.
    """
    esp_payload = _payload(event.esp_event)
    recipient = (event.recipient or "")[:320]
    row = MailEvent(
        event_id=event.event_id,
        event_type=event.event_type or MailEvent.Type.UNKNOWN,
        esp_event=str(esp_payload.get("event", ""))[:64],
        recipient=recipient,
        recipient_key=address_key(recipient),
        message_id=(event.message_id or "")[:255],
        outbound_id=_outbound_id(event),
        reject_reason=event.reject_reason or "",
        description=event.description or "",
        mta_response=event.mta_response or "",
        occurred_at=event.timestamp or timezone.now(),
        payload=esp_payload,
    )
    return _store(row)
