"""The embedded profile (SQLite, filesystem broker, database cache): policy, heartbeats, monitor, check."""

import json
import time

import pytest

from health.results import FAIL, PASS
from queueops.broker import queue_stats
from queueops.health_checks import queue as queue_check
from queueops.models import FailedJob
from tests.queueops import tasks
from tests.queueops.conftest import INCLUDE, assert_alive, manage, runs, wait_for
from tests.support.celery_worker import celery_worker

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(transaction=True)]


def test_the_policy_retries_and_records_on_the_filesystem_broker(queue_env, tmp_path):
    flaky_log, failing_log = tmp_path / "flaky", tmp_path / "failing"
    with celery_worker("--hostname", "qe1@%h", include=INCLUDE):
        assert tasks.flaky.delay(str(flaky_log), 2).get(timeout=60) == {
            "runs": 3,
            "attempt": 3,
            "runs_before": 2,
        }
        failing = tasks.always_fails.delay(str(failing_log))
        job = wait_for(
            lambda: FailedJob.objects.filter(task_id=failing.id).first(), timeout=60, message="failed job"
        )
    started = runs(flaky_log)
    assert started[1] - started[0] >= 1.0 and started[2] - started[1] >= 2.0
    assert len(runs(failing_log)) == 3 and job.attempts == 3 and FailedJob.objects.count() == 1
    assert job.connection.startswith("filesystem://")


def test_heartbeats_and_the_healthcheck_through_the_database_cache(queue_env):
    with celery_worker("--hostname", "qe2@%h", include=INCLUDE):
        beats = wait_for(
            lambda: json.loads(manage("queue_workers", "--json").stdout), timeout=20, message="beat"
        )
        assert beats[0]["hostname"].startswith("qe2@") and beats[0]["queues"] == ["celery"]
        assert_alive("qe2@%h")
        results = {(r.measurement, r.component_id): r for r in queue_check()}
        assert results[("workers", "")].observed_value == 1 and results[("size", "celery")].status == PASS
    gone = manage("queue_worker_alive", "--hostname", "qe2@%h")
    assert gone.returncode == 1 and "no heartbeat" in gone.stderr


def test_monitor_and_check_read_the_filesystem_broker(queue_env):
    for n in range(2):
        tasks.plain.apply_async(args=[n], queue="qo_monitor")
    time.sleep(1.1)
    (stat,) = queue_stats(["qo_monitor"])
    assert stat.size == 2 and stat.oldest_age() >= 1
    assert manage("queue_monitor", "qo_monitor:5").returncode == 0
    over = manage("queue_monitor", "qo_monitor:5:0.5", "--json")
    assert over.returncode == 1
    row = next(row for row in json.loads(over.stdout)["queues"] if row["queue"] == "qo_monitor")
    assert row["size"] == 2 and row["oldest_wait"] >= 1
    tasks.plain.delay(1)
    results = {(r.measurement, r.component_id): r for r in queue_check()}
    assert results[("size", "celery")].status == FAIL, "waiting with no live consumer"
