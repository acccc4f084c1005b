"""The mail event inbox (mailops.inbox): Redis holds what the webhook accepted until it is stored.

Real Redis, real MariaDB, real HTTP posts to Django's live server; the drain runs in a real
Celery worker where the test is about the worker, in this process where it is about the drain.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from health.results import FAIL, PASS, WARN
from mailops import inbox, recording, suppression
from mailops.health_checks import inbox_result
from mailops.models import MailEvent, OutboundMessage, Suppression
from queueops.models import FailedJob
from tests.mailops.signing import payload, post
from tests.mailops.test_commands import run
from tests.support.celery_worker import celery_worker
from tests.support.processes import PYTHON, REPO
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _waiting() -> int:
    return inbox.backlog().waiting


def test_the_webhook_leaves_events_in_the_inbox_and_a_worker_stores_them(webhook_url):
    kinds = ["delivered", "opened", "permanent_failure", "complained", "temporary_failure"] * 4
    bodies = [payload(kind, f"user{n}@example.com") for n, kind in enumerate(kinds)]

    answers = [post(webhook_url, body)[0] for body in bodies]
    answers.append(post(webhook_url, bodies[0])[0])  # Mailgun retrying one

    assert answers == [200] * 21
    assert not MailEvent.objects.exists(), "answered once in Redis, stored by the workers"
    assert _waiting() == 21
    with celery_worker() as worker:
        wait_until(
            lambda: _waiting() == 0 and MailEvent.objects.count() == 20,
            30,
            "the worker's drainer stored every event once",
            explain=lambda: worker.output[-3000:],
        )
    assert Suppression.objects.count() == 8  # the permanent failures and complaints
    assert set(Suppression.objects.values_list("reason", flat=True)) == {"bounced", "complained"}
    assert all(row.event.recipient_key == row.address_key for row in Suppression.objects.all())


def test_with_redis_unreachable_the_webhook_stores_the_event_itself(webhook_url, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there: the inbox refuses

    status, _ = post(webhook_url, payload("permanent_failure", "rita@example.com"))

    assert status == 200
    assert MailEvent.objects.get().event_type == "bounced"
    assert Suppression.objects.get().address_key == "rita@example.com"


def test_a_batch_that_fails_is_stored_event_by_event(webhook_url, monkeypatch):
    for kind in ("delivered", "permanent_failure", "temporary_failure"):
        assert post(webhook_url, payload(kind, "rita@example.com"))[0] == 200

    def broken(rows):
        raise RuntimeError("a batch-only bug")

    monkeypatch.setattr(recording, "store_batch", broken)
    assert inbox.drain_all() == 3

    assert MailEvent.objects.count() == 3
    assert Suppression.objects.get().reason == "bounced"
    assert _waiting() == 0


def test_an_event_that_cannot_be_stored_here_goes_to_a_task_a_worker_runs(webhook_url, monkeypatch):
    good, bad = payload("delivered", "ok@example.com"), payload("complained", "rita@example.com")
    for body in (good, bad):
        assert post(webhook_url, body)[0] == 200
    real_store = recording.store

    def store_but_not_rita(fields):
        if fields["recipient"] == "rita@example.com":
            raise RuntimeError("this event breaks something here")
        return real_store(fields)

    monkeypatch.setattr(
        recording, "store_batch", lambda rows: store_but_not_rita({"recipient": "rita@example.com"})
    )
    monkeypatch.setattr(recording, "store", store_but_not_rita)

    assert inbox.drain_all() == 2
    assert _waiting() == 0, "both are off the inbox: one stored, one handed to mailops.store_event"
    assert list(MailEvent.objects.values_list("recipient", flat=True)) == ["ok@example.com"]

    with celery_worker(purge=False) as worker:  # its own code, without this test's breakage
        wait_until(
            lambda: MailEvent.objects.filter(recipient="rita@example.com").exists(),
            30,
            "the worker's mailops.store_event stored the event",
            explain=lambda: worker.output[-3000:],
        )
    assert Suppression.objects.get().reason == "complained"
    assert not FailedJob.objects.exists()


def test_the_task_keeps_an_event_that_never_stores_as_a_failed_job(monkeypatch):
    from mailops.tasks import store_event

    fields = {"event_id": "x" * 300}  # no other column: the task fails every time
    monkeypatch.setenv("QUEUE_TRIES", "2")
    monkeypatch.setenv("QUEUE_BACKOFF", "0.2")
    with celery_worker() as worker:
        store_event.delay(fields)
        wait_until(
            lambda: FailedJob.objects.filter(task="mailops.store_event").exists(),
            30,
            "a FailedJob for mailops.store_event",
            explain=lambda: worker.output[-3000:],
        )
    assert FailedJob.objects.get().args == [fields], "the event is kept in the failed job"


def test_a_drainer_that_died_mid_batch_leaves_its_events_to_another(webhook_url, settings):
    settings.MAIL_INBOX_CLAIM_AFTER = 1
    for n in range(3):
        assert post(webhook_url, payload("delivered", f"u{n}@example.com"))[0] == 200
    client = inbox._client()
    inbox._ensure_group(client)
    # "dead": read the batch, then never stored nor acknowledged it.
    assert len(inbox._read(client, "dead", 10, None)) == 3

    assert inbox.drain_once("alive") == 0, "not taken over before MAIL_INBOX_CLAIM_AFTER"
    assert inbox.backlog().pending == {"dead": 3}
    time.sleep(1.2)
    assert inbox.drain_once("alive") == 3

    assert MailEvent.objects.count() == 3
    assert inbox.backlog() == inbox.Backlog(0, None, {})


def test_while_the_database_is_unreachable_events_wait_in_redis(webhook_url, monkeypatch):
    assert post(webhook_url, payload("permanent_failure", "rita@example.com"))[0] == 200

    def unreachable(rows):
        raise OperationalError(2003, "Can't connect to MySQL server")

    with monkeypatch.context() as patched:
        patched.setattr(recording, "store_batch", unreachable)
        patched.setattr(inbox, "_database_answers", lambda: False)
        with pytest.raises(OperationalError):
            inbox.drain_once("w1")
        assert _waiting() == 1 and inbox.backlog().pending == {"w1": 1}
        assert not MailEvent.objects.exists()

    assert inbox.drain_once("w1") == 1, "the same drainer takes its own pending entries first"
    assert Suppression.objects.get().address_key == "rita@example.com"
    assert _waiting() == 0


def test_a_database_error_of_one_event_does_not_hold_up_the_inbox(webhook_url, monkeypatch):
    """An OperationalError while the database answers is that event's own (MySQL reports some
    refused values so): the event goes to the task, the others are stored."""
    for recipient in ("a@example.com", "poison@example.com", "b@example.com"):
        assert post(webhook_url, payload("delivered", recipient))[0] == 200
    real_store = recording.store
    handed = []

    def refuse_poison(fields):
        if fields["recipient"] == "poison@example.com":
            raise OperationalError(1366, "Incorrect string value")
        return real_store(fields)

    def batch_refused(rows):
        raise OperationalError(1366, "Incorrect string value")

    monkeypatch.setattr(recording, "store_batch", batch_refused)
    monkeypatch.setattr(recording, "store", refuse_poison)
    from mailops import tasks

    monkeypatch.setattr(tasks.store_event, "delay", lambda fields: handed.append(fields["recipient"]))

    assert inbox.drain_all() == 3

    assert sorted(MailEvent.objects.values_list("recipient", flat=True)) == ["a@example.com", "b@example.com"]
    assert handed == ["poison@example.com"]
    assert _waiting() == 0


def test_an_entry_that_is_not_an_event_is_dropped_not_retried_forever(webhook_url):
    client = inbox._client()
    client.xadd(inbox.STREAM, {"something": "else"})
    client.xadd(inbox.STREAM, {inbox.FIELD: "{not json"})
    assert post(webhook_url, payload("delivered", "ok@example.com"))[0] == 200

    assert inbox.drain_all() == 3

    assert MailEvent.objects.get().recipient == "ok@example.com"
    assert _waiting() == 0


def _fields(kind: str, recipient: str, occurred_at, outbound_id=None) -> dict:
    from anymail.webhooks.mailgun import MailgunTrackingWebhookView

    body = payload(kind, recipient, occurred_at=occurred_at.timestamp())
    if outbound_id is not None:
        body["event-data"]["user-variables"] = {"outbound_id": str(outbound_id)}
    return recording.fields_of(MailgunTrackingWebhookView().esp_to_anymail_event(body))


def _outcome() -> tuple[list, list]:
    events = sorted(MailEvent.objects.values_list("event_id", "event_type", "recipient_key", "outbound_id"))
    rows = sorted(Suppression.objects.values_list("address_key", "reason", "event__event_id"))
    return events, rows


def test_a_batch_ends_as_the_same_events_one_by_one_would(settings):
    """store_batch (inbox) and store (direct) give the same events and the same suppressions, for
    events arriving in time order (out of order, a batch sees soft bounces a one-by-one store would
    count too early to see)."""
    settings.MAIL_SOFT_BOUNCE_LIMIT = 3
    settings.MAIL_SOFT_BOUNCE_WINDOW = 3600
    message = OutboundMessage.objects.create(from_email="a@mg.example.com", to=["x@example.com"], subject="s")
    rng = random.Random(11)
    now = timezone.now()
    kinds = ["delivered", "temporary_failure", "temporary_failure", "permanent_failure", "complained"]
    events = [
        _fields(
            rng.choice(kinds),
            rng.choice(["a@example.com", "B@example.com", "b@EXAMPLE.com", "c@example.com"]),
            now - timedelta(seconds=ago),
            outbound_id=rng.choice([None, message.pk, 999999]),
        )
        for ago in sorted(rng.sample(range(7200), 120), reverse=True)
    ]
    events += events[:5]  # replays inside the batch

    for fields in events:
        recording.store(json.loads(json.dumps(fields)))
    one_by_one = _outcome()
    MailEvent.objects.all().delete()
    Suppression.objects.all().delete()

    recording.store_batch([recording.row_of(json.loads(json.dumps(fields))) for fields in events])

    assert _outcome() == one_by_one
    assert len(one_by_one[0]) == 120
    assert {reason for _, reason, _ in one_by_one[1]} >= {"bounced", "complained"}


def test_an_address_already_suppressed_keeps_its_row(settings):
    suppression.suppress("rita@example.com", "manual", "manual", detail="by hand")
    now = timezone.now()

    recording.store_batch([recording.row_of(_fields("permanent_failure", "Rita@example.com", now))])

    row = Suppression.objects.get()
    assert (row.reason, row.detail) == ("manual", "by hand")
    assert MailEvent.objects.get().event_type == "bounced"


def test_health_passes_warns_and_fails_on_the_age_of_the_oldest_waiting_event(settings):
    settings.MAIL_INBOX_WARN_AGE = 60
    settings.MAIL_INBOX_FAIL_AGE = 600
    client = inbox._client()
    assert inbox_result().status == PASS

    def spool_aged(seconds: float) -> None:
        client.delete(inbox.STREAM)
        client.xadd(inbox.STREAM, {inbox.FIELD: "{}"}, id=f"{int((time.time() - seconds) * 1000)}-0")

    spool_aged(5)
    assert inbox_result().status == PASS
    spool_aged(120)
    warned = inbox_result()
    assert warned.status == WARN and "MAIL_INBOX_WARN_AGE" in warned.output
    assert 119 <= warned.observed_value <= 125
    spool_aged(900)
    failed = inbox_result()
    assert failed.status == FAIL and "workers" in failed.output

    code, out, _ = run("mail_inbox", "status", "--json")
    assert code == 1 and json.loads(out)["late"] is True and json.loads(out)["waiting"] == 1


def test_mail_inbox_command_status_and_drain(webhook_url):
    for n in range(2):
        post(webhook_url, payload("delivered", f"u{n}@example.com"))

    code, out, _ = run("mail_inbox", "status")
    assert code == 0 and out.startswith("2 event(s) waiting, the oldest for")

    code, out, _ = run("mail_inbox", "drain")
    assert (code, out.strip()) == (0, "2 inbox entries stored or handed on")
    assert MailEvent.objects.count() == 2

    code, out, _ = run("mail_inbox", "status", "--json")
    assert code == 0 and json.loads(out) == {
        "waiting": 0,
        "oldest_age_seconds": None,
        "pending_by_drainer": {},
        "late": False,
    }


def test_mail_inbox_without_an_inbox_exits_2_with_one_line(settings):
    from django.core.management import CommandError, call_command

    settings.MAIL_INBOX = False
    with pytest.raises(CommandError) as raised:
        call_command("mail_inbox", "status")
    assert raised.value.returncode == 2 and "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MAIL_INBOX": "true", "REDIS_URL": ""}, "MAIL_INBOX needs REDIS_URL"),
        ({"MAIL_INBOX_BATCH": "0"}, "MAIL_INBOX_BATCH must be at least 1"),
        (
            {"MAIL_INBOX_WARN_AGE": "700", "MAIL_INBOX_FAIL_AGE": "600"},
            "MAIL_INBOX_WARN_AGE <= MAIL_INBOX_FAIL_AGE",
        ),
    ],
)
def test_inbox_settings_that_cannot_work_are_refused_at_start(env, message):
    done = subprocess.run(
        [PYTHON, "manage.py", "check"],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert message in done.stderr and "Traceback" not in done.stderr.splitlines()[-1]
