"""Storing tracking events from Anymail: one MailEvent per event id, suppression applied with it.

The webhook hands each verified event to `record`, which puts it in the inbox (mailops.inbox,
a Redis stream the workers drain with `store_batch`) or, without one, stores it at once.

A direct store is one transaction (an event that cannot suppress is a single INSERT): a crash
between the event and its suppression rolls both back, the webhook answers 5xx, and Mailgun's
retry finds nothing stored and is processed in full, once. A batch is one transaction too.
Rows are written out (opsproject.fast_insert), not saved through the ORM: its per-save work
was the largest part of the webhook's own cost (bench/webhook.py).
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from mailops import suppression
from mailops.models import MailEvent, OutboundMessage, address_key
from opsproject.fast_insert import insert_many, insert_one

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
    """The message the event is about, as our metadata names it (no query: the post is signed,
    and the foreign key refuses an id that does not exist, see `_store`)."""
    try:
        return int((event.metadata or {}).get(OUTBOUND_ID))
    except (TypeError, ValueError):
        return None


def _link_by_message_id(rows: list[MailEvent]) -> None:
    """Rows our metadata did not link: find their message by Mailgun's id (one query).

    Done where the rows are stored, not in the webhook, so that the webhook with an inbox
    needs no database at all.
    """
    unlinked = {row.message_id for row in rows if row.outbound_id is None and row.message_id}
    if not unlinked:
        return
    found: dict[str, int] = {}
    for message_id, pk in (
        OutboundMessage.objects.filter(message_id__in=unlinked).order_by("pk").values_list("message_id", "pk")
    ):
        found.setdefault(message_id, pk)
    for row in rows:
        if row.outbound_id is None and row.message_id:
            row.outbound_id = found.get(row.message_id)


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
    _link_by_message_id([row])
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
        "recipient_key": address_key(recipient),
        "message_id": (event.message_id or "")[:255],
        "outbound_id": _outbound_id(event),
        "reject_reason": event.reject_reason or "",
        "description": event.description or "",
        "mta_response": event.mta_response or "",
        "occurred_at": (event.timestamp or timezone.now()).isoformat(),
        "received_at": timezone.now().isoformat(),
        "payload": esp_payload,
    }


def row_of(fields: dict) -> MailEvent:
    """The unsaved MailEvent of `fields_of`'s output (as read back from the inbox)."""
    values = dict(fields)
    for name in _TIMES:
        values[name] = datetime.fromisoformat(values[name])
    return MailEvent(**values)


def store(fields: dict) -> tuple[MailEvent, bool]:
    """Store one event now; returns the MailEvent and False if it was stored already."""
    return _store(row_of(fields))


def store_batch(rows: list[MailEvent]) -> int:
    """Store the events of `rows` not stored yet, in one transaction; returns how many were new.

    Replays inside the batch and events stored earlier (by either path) are skipped; an
    event naming a message that is gone is kept, unlinked; suppression rules run for each new
    event in the batch's order once all are stored, which is what storing them one by one gives
    for events in time order (and better for events out of it: a soft bounce that arrives late
    still counts towards the ones of its window).
    Raises (and stores nothing) on any failure: the caller keeps the entries and retries.
    """
    unique: dict[str, MailEvent] = {}
    for row in rows:
        unique.setdefault(row.event_id, row)
    with transaction.atomic():
        stored = set(MailEvent.objects.filter(event_id__in=list(unique)).values_list("event_id", flat=True))
        new = [row for event_id, row in unique.items() if event_id not in stored]
        _link_by_message_id(new)
        linked = {row.outbound_id for row in new if row.outbound_id is not None}
        if linked:
            existing = set(OutboundMessage.objects.filter(pk__in=linked).values_list("pk", flat=True))
            for row in new:
                if row.outbound_id is not None and row.outbound_id not in existing:
                    row.outbound_id = None
        insert_many(new)
        considered = {row.event_id: row for row in new if row.event_type in suppression.CONSIDERED}
        if considered:
            # The suppression rows link their event: read back the ids the INSERT gave them.
            for event_id, pk in MailEvent.objects.filter(event_id__in=list(considered)).values_list(
                "event_id", "pk"
            ):
                considered[event_id].pk = pk
            suppression.apply_batch(list(considered.values()))
    return len(new)


def record(event) -> bool:
    """Take an AnymailTrackingEvent; True when it is in the inbox, False when it was stored here.

    Returns once the event is safe (in the inbox, or committed), so the webhook's 200 means kept.
    An inbox that cannot take it (Redis down) does not fail the webhook: the event is stored
    directly instead.
    """
    from mailops import inbox  # imports this module

    fields = fields_of(event)
    if inbox.spool(fields):
        return True
    store(fields)
    return False
