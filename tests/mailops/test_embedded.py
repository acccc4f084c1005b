"""The webhook in the embedded profile (SQLite, no Redis, the filesystem broker), as `make run` serves it."""

from __future__ import annotations

import pytest

from mailops.models import MailEvent, Suppression
from tests.mailops.signing import payload, post
from tests.support.celery_worker import celery_worker
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(transaction=True)]


def test_events_are_stored_once_and_suppress_on_sqlite(webhook_url):
    bounce = payload("permanent_failure", "Rita@Example.com", variables={"outbound_id": "424242"})

    with celery_worker() as worker:
        answers = [post(webhook_url, bounce)[0], post(webhook_url, bounce)[0]]
        answers.append(post(webhook_url, payload("delivered", "sam@example.com"))[0])

        assert answers == [200, 200, 200]
        wait_until(
            lambda: MailEvent.objects.count() == 2 and Suppression.objects.exists(),
            60,
            "the worker stored both events",
            explain=lambda: worker.output[-3000:],
        )
    assert MailEvent.objects.count() == 2
    assert MailEvent.objects.get(event_type="bounced").outbound is None, "unknown message: kept, unlinked"
    assert list(Suppression.objects.values_list("address_key", "reason")) == [("rita@example.com", "bounced")]
