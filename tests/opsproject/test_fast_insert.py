"""opsproject.fast_insert: a row written by insert_one is the row save() would have written."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models.signals import post_save, pre_save
from django.utils import timezone

from mailops.models import MailEvent, OutboundMessage, Suppression, address_key
from opsproject.fast_insert import CHUNK, insert_many, insert_one

# Each test runs in both passes of `make test`: MariaDB (integration) and SQLite (embedded).
both_profiles = pytest.mark.parametrize(
    "profile", ["integration", pytest.param("embedded", marks=pytest.mark.embedded)]
)
pytestmark = [pytest.mark.django_db, both_profiles]


def _event(event_id: str, **fields) -> MailEvent:
    recipient = fields.pop("recipient", "Bob@Example.com")
    return MailEvent(
        event_id=event_id,
        event_type=fields.pop("event_type", MailEvent.Type.BOUNCED),
        esp_event="failed",
        recipient=recipient,
        recipient_key=address_key(recipient),
        message_id="<m1@mg.example.com>",
        reject_reason="bounced",
        description=fields.pop("description", "550 no such user \u2014 \U0001f4e7"),
        mta_response="",
        occurred_at=timezone.now().replace(microsecond=123456),
        payload={"event": "failed", "nested": {"list": [1, 2.5, None, True]}, "text": "\u00e9"},
        **fields,
    )


def _stored(pk) -> dict:
    row = MailEvent.objects.values().get(pk=pk)
    row.pop("id")
    row.pop("event_id")
    return row


def test_a_row_written_by_insert_one_reads_back_as_the_orm_would_have_written_it(profile):
    assert connection.vendor == ("sqlite" if profile == "embedded" else "mysql")
    outbound = OutboundMessage.objects.create(
        from_email="a@mg.example.com", to=["b@example.com"], subject="s"
    )
    by_orm = _event("orm", outbound=outbound)
    by_orm.save(force_insert=True)
    written = _event("fast", outbound=outbound)
    written.occurred_at = by_orm.occurred_at
    written.received_at = by_orm.received_at

    assert insert_one(written) is True

    assert written.pk is not None and written.pk != by_orm.pk
    assert not written._state.adding and written._state.db == "default"
    assert _stored(written.pk) == _stored(by_orm.pk)
    assert MailEvent.objects.get(pk=written.pk).outbound == outbound


def test_a_clash_raises_integrity_error_and_leaves_the_stored_row_alone(profile):
    first = _event("same-id", description="first")
    insert_one(first)
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_one(_event("same-id", description="second"))
    assert MailEvent.objects.get(event_id="same-id").description == "first"


def test_ignore_conflicts_skips_a_clashing_row_and_says_so(profile):
    def suppression(address: str, reason: str) -> Suppression:
        return Suppression(address=address, address_key=address_key(address), reason=reason, source="webhook")

    assert insert_one(suppression("x@example.com", "bounced"), ignore_conflicts=True) is True
    again = suppression("X@example.com", "complained")
    assert insert_one(again, ignore_conflicts=True) is False
    assert again.pk is None
    assert list(Suppression.objects.values_list("address", "reason")) == [("x@example.com", "bounced")]


def test_nothing_listens_to_the_save_signals_insert_one_does_not_send(profile):
    # insert_one sends no pre_save/post_save: a receiver added for these models would be skipped.
    for model in (MailEvent, Suppression):
        assert not pre_save.has_listeners(model), model
        assert not post_save.has_listeners(model), model


def test_rows_written_by_insert_many_read_back_as_the_orm_would_have_written_them(profile):
    by_orm = _event("orm")
    by_orm.save(force_insert=True)
    rows = []
    for n in range(CHUNK * 2 + 7):  # three statements
        row = _event(f"many-{n}")
        row.occurred_at, row.received_at = by_orm.occurred_at, by_orm.received_at
        rows.append(row)

    assert insert_many(rows) == len(rows)

    assert all(row.pk is None for row in rows), "multi-row INSERTs give no ids (MySQL cannot say)"
    stored = MailEvent.objects.filter(event_id__startswith="many-")
    assert stored.count() == len(rows)
    expected = _stored(by_orm.pk)
    assert all(_stored(pk) == expected for pk in stored.values_list("pk", flat=True))
    assert insert_many([]) == 0


def test_insert_many_refuses_a_duplicate_and_its_transaction_keeps_nothing(profile):
    _event("taken").save(force_insert=True)
    rows = [_event("fresh-1"), _event("taken"), _event("fresh-2")]

    with pytest.raises(IntegrityError), transaction.atomic():
        insert_many(rows)

    assert list(MailEvent.objects.values_list("event_id", flat=True)) == ["taken"]
