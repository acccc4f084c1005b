"""mailops.prune_history: mail history past MAIL_RETENTION_DAYS goes, the suppression list stays."""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone

from mailops import retention
from mailops.models import MailEvent, OutboundMessage, Suppression, address_key
from mailops.tasks import prune_history
from scheduler.periodic import registered_jobs
from tests.support.processes import PYTHON, REPO

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


def _message(created_at) -> OutboundMessage:
    return OutboundMessage.objects.create(
        from_email="helpdesk@mg.example.com", to=["a@example.com"], subject="s", created_at=created_at
    )


def _event(event_id: str, occurred_at, outbound=None, event_type=MailEvent.Type.DELIVERED) -> MailEvent:
    return MailEvent.objects.create(
        event_id=event_id,
        event_type=event_type,
        recipient="a@example.com",
        occurred_at=occurred_at,
        outbound=outbound,
    )


def test_history_past_retention_goes_and_the_rest_stays(settings):
    settings.MAIL_RETENTION_DAYS = 30
    now = timezone.now()
    old_message, kept_message = _message(now - 31 * DAY), _message(now - 29 * DAY)
    old_event = _event("old", now - 31 * DAY, old_message)
    bounce = _event("old-bounce", now - 40 * DAY, old_message, MailEvent.Type.BOUNCED)
    kept_about_old_message = _event("recent-about-old", now - 2 * DAY, old_message)
    kept = _event("recent", now - 29 * DAY, kept_message)
    suppression = Suppression.objects.create(
        address="a@example.com",
        address_key=address_key("a@example.com"),
        reason="bounced",
        source="webhook",
        event=bounce,
    )

    assert retention.prune(now) == {"mail_events": 2, "outbound_messages": 1}

    assert set(MailEvent.objects.values_list("event_id", flat=True)) == {"recent-about-old", "recent"}
    assert list(OutboundMessage.objects.values_list("pk", flat=True)) == [kept_message.pk]
    suppression.refresh_from_db()
    assert (suppression.reason, suppression.event) == ("bounced", None), "suppressions are never pruned"
    kept_about_old_message.refresh_from_db()
    kept.refresh_from_db()
    assert kept_about_old_message.outbound is None and kept.outbound == kept_message
    assert not MailEvent.objects.filter(pk=old_event.pk).exists()


def test_zero_keeps_everything(settings):
    settings.MAIL_RETENTION_DAYS = 0
    ancient = timezone.now() - 5000 * DAY
    _event("ancient", ancient, _message(ancient))

    assert retention.prune() == {"mail_events": 0, "outbound_messages": 0}
    assert MailEvent.objects.count() == OutboundMessage.objects.count() == 1


def test_many_rows_go_in_batches_until_none_is_left(settings, monkeypatch):
    settings.MAIL_RETENTION_DAYS = 10
    monkeypatch.setattr(retention, "BATCH", 3)
    old = timezone.now() - 11 * DAY
    for n in range(10):
        _event(f"e{n}", old)
    _event("new", timezone.now())

    assert prune_history.apply().get() == {"mail_events": 10, "outbound_messages": 0}
    assert list(MailEvent.objects.values_list("event_id", flat=True)) == ["new"]


def test_the_job_runs_daily_at_night():
    [job] = [job for job in registered_jobs() if job.name == "mailops.prune_history"]
    assert job.task == "mailops.prune_history"
    assert job.schedule.expression == "45 3 * * *"


@pytest.mark.parametrize("days", ["-1", "3"])
def test_a_retention_shorter_than_the_soft_bounce_window_is_refused_at_start(days):
    env = {**os.environ, "MAIL_RETENTION_DAYS": days, "MAIL_SOFT_BOUNCE_WINDOW": str(3 * 86400)}
    done = subprocess.run(
        [PYTHON, "manage.py", "check"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "MAIL_RETENTION_DAYS must be 0 (keep forever) or cover MAIL_SOFT_BOUNCE_WINDOW" in done.stderr
