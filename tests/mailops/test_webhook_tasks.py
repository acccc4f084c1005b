"""Webhook events through Celery: the webhook publishes `mailops.store_event`, a worker stores it.

Real Redis broker, real MariaDB, real Mailgun-signed posts over HTTP, real `celery worker`
processes (and a real web process where the test is about the web's own broker or database).
"""

from __future__ import annotations

import json
import re
import signal
from datetime import datetime

import MySQLdb
import pytest
from django.db import connection
from django.utils import timezone

from mailops import recording, suppression
from mailops.models import MailEvent, Suppression
from opsproject.celery import app
from queueops.models import FailedJob
from tests.mailops.conftest import WEBHOOK_PATH
from tests.mailops.signing import SIGNING_KEY, payload, post
from tests.support.celery_worker import celery_worker, child_env
from tests.support.processes import BIN, free_port, running
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_webhook_answers_once_published_and_a_worker_stores_each_event_once(webhook_url):
    app.control.purge()
    kinds = ["delivered", "opened", "permanent_failure", "complained", "temporary_failure"] * 4
    bodies = [payload(kind, f"user{n}@example.com") for n, kind in enumerate(kinds)]

    answers = [post(webhook_url, body)[0] for body in bodies]
    answers.append(post(webhook_url, bodies[0])[0])  # Mailgun retrying one

    assert answers == [200] * 21
    assert not MailEvent.objects.exists(), "answered once published; stored by a worker"
    with celery_worker(purge=False) as worker:
        wait_until(
            lambda: MailEvent.objects.count() == 20 and Suppression.objects.count() == 8,
            60,
            "the worker stored every event once",
            explain=lambda: worker.output[-3000:],
        )
    assert MailEvent.objects.count() == 20
    assert Suppression.objects.count() == 8  # the permanent failures and complaints
    assert set(Suppression.objects.values_list("reason", flat=True)) == {"bounced", "complained"}
    assert all(row.event.recipient_key == row.address_key for row in Suppression.objects.all())


def _web(**env: str):
    """A real web process (uvicorn, the production server kind) with the given environment."""
    port = free_port()
    argv = [str(BIN / "uvicorn"), "opsproject.asgi:application", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--lifespan", "off", "--log-level", "info"]
    environment = child_env(MAILGUN_WEBHOOK_SIGNING_KEY=SIGNING_KEY, **env)
    return running(argv, env=environment), f"http://127.0.0.1:{port}{WEBHOOK_PATH}"


UNREACHABLE_BROKERS = {"redis": "redis://127.0.0.1:1/0", "rabbitmq": "amqp://guest:guest@127.0.0.1:1//"}


@pytest.mark.parametrize("broker", UNREACHABLE_BROKERS)
def test_with_the_broker_unreachable_the_webhook_stores_the_event_itself(broker):
    process, url = _web(CELERY_BROKER_URL=UNREACHABLE_BROKERS[broker])
    with process as web:
        web.wait_for_line(r"Uvicorn running on", timeout=60)
        body = payload("permanent_failure", "rita@example.com")
        first = post(url, body)
        replay = post(url, body)

    assert (first[0], replay[0]) == (200, 200), (first, replay, web.output[-3000:])
    assert "storing mail event" in web.output
    assert MailEvent.objects.get().event_type == "bounced"
    assert Suppression.objects.get().address_key == "rita@example.com"


def test_with_the_broker_and_the_database_unreachable_the_webhook_answers_503():
    process, url = _web(
        CELERY_BROKER_URL=UNREACHABLE_BROKERS["redis"],
        DATABASE_URL="mysql://root@127.0.0.1:1/nothing_listens_here",
        DATABASE_CONNECT_TIMEOUT="2",
    )
    with process as web:
        web.wait_for_line(r"Uvicorn running on", timeout=60)
        status, text = post(url, payload("permanent_failure", "rita@example.com"))

    assert status == 503, (status, text, web.output[-3000:])
    assert "Retry" in text or "temporarily unavailable" in text
    assert not MailEvent.objects.exists()


def _mariadb():
    settings = connection.settings_dict
    return MySQLdb.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=int(settings["PORT"] or 3306),
        user=settings["USER"] or "root",
        passwd=settings["PASSWORD"] or "",
        db=settings["NAME"],
    )


def _inserts_waiting() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = %s AND INFO LIKE %s",
            [connection.settings_dict["NAME"], f"INSERT INTO `{MailEvent._meta.db_table}`%"],
        )
        return cursor.fetchone()[0]


def test_a_worker_killed_mid_store_leaves_the_event_redelivered_and_stored_once(webhook_url, monkeypatch):
    if connection.vendor != "mysql":
        pytest.skip("holds a MariaDB table lock")
    # The broker hands a dead worker's unacknowledged task to another after this long.
    monkeypatch.setenv("CELERY_VISIBILITY_TIMEOUT", "3")
    app.control.purge()
    body = payload("complained", "rita@example.com")
    assert post(webhook_url, body)[0] == 200

    # Another session holds the table: the worker's INSERT waits inside its store, where it dies.
    blocker = _mariadb()
    try:
        blocker.cursor().execute(f"LOCK TABLES `{MailEvent._meta.db_table}` WRITE")
        with celery_worker(purge=False) as first:
            wait_until(
                lambda: _inserts_waiting() == 1,
                60,
                "the worker's INSERT to wait on the lock",
                explain=lambda: first.output[-3000:],
            )
            first.signal(signal.SIGKILL)  # the worker and its pool children at once
            first.proc.wait(10)
        blocker.cursor().execute("UNLOCK TABLES")
    finally:
        blocker.close()
    assert not MailEvent.objects.exists(), "the killed store left nothing behind"

    with celery_worker(purge=False) as second:
        wait_until(
            lambda: Suppression.objects.exists(),
            60,
            "the redelivered task to store the event",
            explain=lambda: second.output[-3000:],
        )
        assert post(webhook_url, body)[0] == 200  # and Mailgun retrying it meanwhile
        wait_until(
            lambda: len(re.findall(r"mailops\.store_event\[[^\]]+\] succeeded", second.output)) == 2,
            60,
            "the retried post's task to find the event stored",
            explain=lambda: second.output[-3000:],
        )
    assert MailEvent.objects.get().event_id == body["signature"]["token"]
    assert Suppression.objects.get().reason == "complained"
    assert not FailedJob.objects.exists()


def test_an_event_that_can_never_be_stored_is_kept_as_a_failed_job_at_once():
    from mailops.tasks import store_event

    fields = {"event_id": "x" * 300}  # no other column: refused as it is, retrying cannot help
    with celery_worker() as worker:
        store_event.delay(fields)
        wait_until(
            lambda: FailedJob.objects.filter(task="mailops.store_event").exists(),
            30,
            "a FailedJob for mailops.store_event",
            explain=lambda: worker.output[-3000:],
        )
    failed = FailedJob.objects.get()
    assert failed.args == [fields], "the event is kept in the failed job"
    assert failed.attempts == 1


def _fields(kind: str, recipient: str):
    from anymail.webhooks.mailgun import MailgunTrackingWebhookView

    body = payload(kind, recipient, occurred_at=timezone.now().timestamp())
    return recording.fields_of(MailgunTrackingWebhookView().esp_to_anymail_event(body))


def test_an_address_already_suppressed_keeps_its_row():
    suppression.suppress("rita@example.com", "manual", "manual", detail="by hand")

    _, new = recording.store(_fields("permanent_failure", "Rita@example.com"))

    assert new
    row = Suppression.objects.get()
    assert (row.reason, row.detail) == ("manual", "by hand")
    assert MailEvent.objects.get().event_type == "bounced"


def test_the_fields_a_task_carries_survive_the_broker_serializer():
    """The task's argument goes through JSON: what `store` reads back is what `fields_of` gave."""
    fields = _fields("temporary_failure", "Sam@Example.com")
    _, new = recording.store(json.loads(json.dumps(fields)))

    stored = MailEvent.objects.get()
    assert new and (stored.event_type, stored.recipient_key) == ("deferred", "sam@example.com")
    assert stored.occurred_at == datetime.fromisoformat(fields["occurred_at"])
    assert stored.recipient == "Sam@Example.com"
