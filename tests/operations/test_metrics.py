"""/metrics: access control, every listed family present, and task outcomes of two real workers summed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from operations import outcomes
from queueops.models import FailedJob
from tests.operations import tasks
from tests.operations.conftest import INCLUDE
from tests.support.celery_worker import celery_worker

TOKEN = "metrics-token-for-tests-0123456789"

# Every family the issue lists (health, queues, workers, task outcomes, failed jobs, beat,
# periodic jobs, backups, drills, mail, websockets), by its name in the exposition.
REQUIRED = {
    "ops_health_status",
    "ops_health_check_latency_seconds",
    "ops_queue_size",
    "ops_queue_oldest_wait_seconds",
    "ops_queue_consumers",
    "ops_workers_live",
    "ops_task_outcomes",
    "ops_failed_jobs",
    "ops_beat_leader",
    "ops_beat_has_leader",
    "ops_beat_last_tick_timestamp_seconds",
    "ops_job_last_success_timestamp_seconds",
    "ops_backup_newest_timestamp_seconds",
    "ops_backup_newest_size_bytes",
    "ops_backup_drill_passed",
    "ops_backup_drill_rto_seconds",
    "ops_backup_storage_bytes",
    "ops_mail_events",
    "ops_websocket_connections",
    "ops_websocket_dropped_messages",
}


@pytest.fixture
def metrics_settings(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = ["10.20.0.0/16"]
    return settings


def scrape(**extra) -> dict:
    response = Client().get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    families = {family.name: family for family in text_string_to_metric_families(response.content.decode())}
    return families


def samples(family) -> dict[tuple, float]:
    return {tuple(sorted(sample.labels.items())): sample.value for sample in family.samples}


@pytest.mark.django_db
def test_metrics_are_refused_without_the_token_or_an_allowed_address(metrics_settings):
    client = Client()
    assert client.get("/metrics").status_code == 403  # 127.0.0.1 is not in 10.20.0.0/16
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Token {TOKEN}").status_code == 403
    refused = client.get("/metrics", REMOTE_ADDR="10.21.0.1")
    assert refused.status_code == 403 and TOKEN not in refused.content.decode()
    assert client.get("/metrics", REMOTE_ADDR="10.20.3.4").status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    # A forwarded-for header is the client's word, not an address: it grants nothing.
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="10.20.3.4").status_code == 403


@pytest.mark.django_db
def test_an_unset_token_never_matches(settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = []
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_task_outcomes_of_two_worker_processes_are_summed(metrics_settings, clean_queues, tmp_path):
    from django.utils import timezone

    from backups.models import BackupDrill, BackupRecord

    call_command("schedule_sync", verbosity=0)
    now = timezone.now()
    BackupRecord.objects.create(
        backup_id="b1",
        status="ok",
        database_alias="default",
        vendor="mysql",
        archive_name="b1.age",
        started_at=now,
        finished_at=now,
        stored_size=12345,
        raw_size=99999,
    )
    BackupDrill.objects.create(
        backup_id="b1", status="passed", started_at=now, finished_at=now, rto_seconds=4.5
    )

    marks = tmp_path / "runs"
    worker_a = celery_worker("-n", "ops-a@%h", "--concurrency=1", include=INCLUDE, queues="ops_a")
    worker_b = celery_worker("-n", "ops-b@%h", "--concurrency=1", include=INCLUDE, queues="ops_b")
    with worker_a as a, worker_b as b:
        for _ in range(3):
            tasks.succeed.apply_async((str(marks),), queue="ops_a")
        tasks.fail.apply_async((str(marks),), queue="ops_a")
        for _ in range(4):
            tasks.succeed.apply_async((str(marks),), queue="ops_b")
        for _ in range(2):
            tasks.fail.apply_async((str(marks),), queue="ops_b")
        deadline = time.monotonic() + 60
        while sum(outcomes.totals().values()) < 10 and time.monotonic() < deadline:
            time.sleep(0.2)
        families = scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert a.proc.poll() is None and b.proc.poll() is None

    # Both workers ran tasks: each pool child wrote its own pid.
    pids = {line.split()[1] for line in Path(marks).read_text().splitlines()}
    assert len(pids) >= 2, pids
    assert set(families) >= REQUIRED, REQUIRED - set(families)
    outcome = samples(families["ops_task_outcomes"])
    assert outcome[(("state", "success"), ("task", "tests.operations.succeed"))] == 7
    assert outcome[(("state", "failure"), ("task", "tests.operations.fail"))] == 3
    assert samples(families["ops_failed_jobs"])[()] == FailedJob.objects.count() == 3
    assert samples(families["ops_backup_newest_size_bytes"])[()] == 12345
    assert samples(families["ops_backup_drill_passed"])[()] == 1
    assert samples(families["ops_backup_drill_rto_seconds"])[()] == 4.5
    jobs = samples(families["ops_job_late"])
    assert (("job", "operations.sample_queues"),) in jobs
    errors = samples(families["ops_scrape_error"])
    assert all(value == 0 for value in errors.values()), errors


@pytest.mark.django_db
def test_during_a_rotation_the_previous_token_still_scrapes(metrics_settings):
    metrics_settings.METRICS_TOKEN = "new-metrics-token-Hk3Wq9Lp0Zx7Vb2Nm5Rt"
    metrics_settings.METRICS_TOKEN_PREVIOUS = TOKEN
    client = Client()
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert (
        client.get("/metrics", HTTP_AUTHORIZATION="Bearer new-metrics-token-Hk3Wq9Lp0Zx7Vb2Nm5Rt").status_code
        == 200
    )
    # Non-ASCII is compared, not a TypeError (500).
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer caf\u00e9").status_code == 403
    metrics_settings.METRICS_TOKEN_PREVIOUS = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_mail_events_are_counted_once_stored_and_a_scrape_reads_the_counters(metrics_settings):
    """The scrape reads counters kept on write (no GROUP BY over the table): an event counts once
    its transaction commits; one rolled back never does."""
    from django.db import transaction

    from keyvalue import store
    from mailops.models import STORED_COUNTS, MailEvent

    store().delete(STORED_COUNTS)
    MailEvent.objects.create(event_id="counted-1", event_type=MailEvent.Type.DELIVERED)
    with pytest.raises(RuntimeError), transaction.atomic():
        MailEvent.objects.create(event_id="rolled-back", event_type=MailEvent.Type.BOUNCED)
        raise RuntimeError("rolled back")
    counted = samples(scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")["ops_mail_events"])
    assert counted[(("type", "delivered"),)] == 1
    assert counted[(("type", "bounced"),)] == 0


@pytest.mark.django_db
def test_a_mail_event_is_stored_while_the_shared_store_is_down(
    settings, caplog, django_capture_on_commit_callbacks, monkeypatch
):
    """The counter is best effort: Redis down (a closed port) delays a count, never the event."""
    from mailops import models
    from mailops.models import STORED_COUNTS, MailEvent
    from mailops.stored_counter import StoredCounter

    # A counter of this test's own: the back-off and the count it holds end with the test.
    monkeypatch.setattr(models, "stored_counter", StoredCounter(STORED_COUNTS))
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        MailEvent.objects.create(event_id="store-down", event_type=MailEvent.Type.DELIVERED)
    assert len(callbacks) == 1 and MailEvent.objects.filter(event_id="store-down").exists()
    assert "mail events not counted for /metrics (ConnectionError)" in caplog.text
