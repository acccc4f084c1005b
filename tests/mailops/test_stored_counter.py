"""The stored mail events' counter (/metrics' ops_mail_events) against a hung Redis: storing
waits for it once per back-off, not once per event, and the counter catches up afterwards."""

import logging

import pytest

from keyvalue import store
from mailops import models
from mailops.models import STORED_COUNTS, MailEvent
from mailops.stored_counter import BACKOFF, StoredCounter
from tests.health.support import BlackHole
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _store(prefix: str, n: int) -> None:
    for i in range(n):  # each its own transaction: counted on its commit
        MailEvent.objects.create(
            event_id=f"{prefix}-{i}", event_type="delivered", recipient="rita@example.com"
        )


def test_a_hung_redis_is_waited_for_once_per_back_off_not_once_per_event(settings, monkeypatch, caplog):
    if not settings.REDIS_URL:
        pytest.skip("the integration profile's Redis store")
    caplog.set_level(logging.WARNING, logger="mailops.stored_counter")
    real_redis = settings.REDIS_URL
    store().delete(STORED_COUNTS)
    # A counter of this test's own (no back-off left by another test), on a clock of the test's:
    # the back-off's clock only, not the sockets'.
    counter, now = StoredCounter(STORED_COUNTS), [1000.0]
    counter.clock = lambda: now[0]
    monkeypatch.setattr(models, "stored_counter", counter)
    with BlackHole() as hole:
        settings.REDIS_URL = f"redis://127.0.0.1:{hole.port}/3"
        settings.REDIS_SOCKET_TIMEOUT = 0.3
        _store("hung", 1)
        wait_until(lambda: hole.accepted >= 1, 30, "the counter's attempt on the hung Redis")
        first = hole.accepted  # one update: redis-py's own retries included
        _store("hung-more", 9)
        assert MailEvent.objects.count() == 10
        assert hole.accepted == first, "the nine events after the failed update did not wait"
    settings.REDIS_URL = real_redis
    _store("back", 1)  # Redis answers again, but the back-off still runs: held
    assert store().counts(STORED_COUNTS) == [{}]
    now[0] += BACKOFF
    _store("after", 1)
    assert store().counts(STORED_COUNTS) == [{"delivered": 12}], "the held counts caught up"
    messages = [record.getMessage() for record in caplog.records if record.name == "mailops.stored_counter"]
    assert len(messages) == 2, messages  # once for the outage, once caught up
    assert "not counted" in messages[0] and "12 held event(s) added" in messages[1]
