"""The overview's mail panel: the last 24 h of mail events, counted by type."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from mailops.models import MailEvent
from operations import snapshot

pytestmark = pytest.mark.django_db


def test_the_days_events_are_counted_by_type_and_older_ones_left_out():
    now = timezone.now()
    made = [
        ("delivered", timedelta(minutes=5)),
        ("delivered", timedelta(hours=23)),
        ("bounced", timedelta(hours=1)),
        ("complained", timedelta(hours=2)),
        ("delivered", timedelta(hours=25)),  # older than a day: not counted
        ("bounced", timedelta(days=3)),
    ]
    for number, (event_type, age) in enumerate(made):
        MailEvent.objects.create(
            event_id=f"e{number}",
            event_type=event_type,
            recipient=f"u{number}@example.com",
            occurred_at=now - age,
        )
    panel = snapshot.mail()
    assert panel["events_24h"] == {"delivered": 2, "bounced": 1, "complained": 1}
    # Every type the model knows is counted (the query names them all, for its index).
    for number, event_type in enumerate(MailEvent.Type.values):
        MailEvent.objects.create(
            event_id=f"t{number}", event_type=event_type, recipient="t@example.com", occurred_at=now
        )
    counted = snapshot.mail()["events_24h"]
    assert sum(counted.values()) == 4 + len(MailEvent.Type.values)
    assert set(counted) == set(MailEvent.Type.values)
