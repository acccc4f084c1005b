"""queue_monitor, queue_probe, worker heartbeats (queue_workers, queue_worker_alive), the `queue` check."""

import json
import signal
import time

import pytest
from django.test import override_settings

from health.results import FAIL, PASS, WARN
from opsproject.celery import app
from queueops.broker import ENQUEUED_AT, queue_stats
from queueops.health_checks import queue as queue_check
from queueops.models import FailedJob
from tests.queueops import tasks
from tests.queueops.conftest import INCLUDE, assert_alive, manage, wait_for
from tests.support.celery_worker import celery_worker

pytestmark = pytest.mark.django_db(transaction=True)

WORKER = "qo1@%h"


def _fill(queue: str, count: int) -> None:
    for n in range(count):
        tasks.plain.apply_async(args=[n], queue=queue)


def test_every_message_records_when_it_was_enqueued(queue_env):
    before = time.time()
    _fill("qo_monitor", 2)
    stats = queue_stats(["qo_monitor", "qo_idle"])
    assert [(s.name, s.size) for s in stats] == [("qo_monitor", 2), ("qo_idle", 0)]
    assert before <= stats[0].oldest_enqueued_at <= time.time()
    assert stats[1].oldest_age() is None
    with app.connection_for_read() as conn:
        raw = conn.default_channel.client.lindex("qo_monitor", -1)
    assert ENQUEUED_AT in json.loads(raw)["headers"]


def test_queue_monitor_prints_sizes_ages_and_exits_1_past_a_maximum(queue_env):
    _fill("qo_monitor", 3)
    time.sleep(1.1)
    within = manage("queue_monitor", "qo_monitor:5")
    assert within.returncode == 0, within.stderr
    line = next(row for row in within.stdout.splitlines() if row.startswith("qo_monitor"))
    assert line.split()[1] == "3" and line.split()[-1] == "ok"
    assert manage("queue_monitor", "qo_monitor:2").returncode == 1
    too_old = manage("queue_monitor", "qo_monitor:10:0.5", "--json")
    assert too_old.returncode == 1
    report = {row["queue"]: row for row in json.loads(too_old.stdout)["queues"]}
    assert report["qo_monitor"]["size"] == 3 and report["qo_monitor"]["oldest_wait"] >= 1
    assert report["qo_monitor"]["consumers"] == 0 and report["qo_monitor"]["exceeded"] is True
    assert report["celery"]["size"] == 0 and report["celery"]["exceeded"] is False
    down = manage("queue_monitor", env={"REDIS_URL": "redis://127.0.0.1:1/0"})
    assert down.returncode == 1 and "broker unreachable" in down.stderr


def test_queue_probe_round_trip_timeout_and_failing_canary(queue_env):
    with celery_worker("--hostname", WORKER, include=INCLUDE):
        ok = manage("queue_probe", "--timeout", "20")
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.startswith("queue celery: round trip ")
        failing = manage("queue_probe", "--fail")
        assert failing.returncode == 0, failing.stderr
        assert "became failed job #" in failing.stdout and "after 3 attempts" in failing.stdout
        assert not FailedJob.objects.exists(), "the canary's row is removed unless --keep"
        kept = manage("queue_probe", "--fail", "--keep", "--timeout", "20")
        assert kept.returncode == 0 and FailedJob.objects.get().task == "queueops.probe_fail"
    silent = manage("queue_probe", "--queue", "qo_probe", "--timeout", "1.5")
    assert silent.returncode == 1
    assert "no answer within 1.5 s" in silent.stderr


def test_heartbeats_list_live_workers_and_answer_the_healthcheck(queue_env):
    with celery_worker("--hostname", WORKER, include=INCLUDE) as worker:
        tasks.plain.delay(1).get(timeout=20)
        listed = wait_for(
            lambda: [w for w in json.loads(manage("queue_workers", "--json").stdout) if w["processed"] >= 1],
            timeout=10,
            message="a heartbeat counting the processed task",
        )
        (beat,) = listed
        assert beat["hostname"].startswith("qo1@") and beat["queues"] == ["celery"] and beat["alive"]
        assert beat["pid"] == worker.proc.pid and beat["concurrency"] == 2
        table = manage("queue_workers")
        assert beat["hostname"] in table.stdout and "alive" in table.stdout
        assert_alive(WORKER)
        assert manage("queue_worker_alive").returncode == 0, "any worker on this host"
        assert manage("queue_worker_alive", "--hostname", "nobody@nowhere").returncode == 1
        worker.signal(signal.SIGKILL)
        worker.proc.wait(10)
    time.sleep(2.5)
    stale = manage("queue_worker_alive", "--hostname", WORKER)
    assert stale.returncode == 1 and "last heartbeat" in stale.stderr
    assert json.loads(manage("queue_workers", "--json").stdout) == []
    lost = manage("queue_workers", "--all")
    assert "LOST" in lost.stdout
    # A clean stop takes the worker off the board at once.
    with celery_worker("--hostname", "qo2@%h", include=INCLUDE):
        assert manage("queue_worker_alive", "--hostname", "qo2@%h").returncode == 0
    gone = manage("queue_worker_alive", "--hostname", "qo2@%h")
    assert gone.returncode == 1 and "no heartbeat" in gone.stderr


def _by_key(results):
    return {(r.measurement, r.component_id): r for r in results}


def test_the_queue_health_check(queue_env, monkeypatch):
    tasks.plain.delay(1)  # waiting on `celery`, and no worker consumes it
    results = _by_key(queue_check())
    assert results[("responseTime", "")].status == PASS
    assert results[("responseTime", "")].observed_unit == "ms"
    assert results[("workers", "")].status == WARN and results[("workers", "")].observed_value == 0
    assert results[("size", "celery")].status == FAIL and results[("size", "celery")].observed_value == 1
    with celery_worker("--hostname", WORKER, include=INCLUDE):
        wait_for(lambda: queue_stats(["celery"])[0].size == 0, timeout=20, message="the queue drained")
        results = _by_key(queue_check())
        assert results[("workers", "")].observed_value == 1 and results[("workers", "")].status == PASS
        assert results[("size", "celery")].status == PASS and results[("wait", "celery")].status == PASS
    _fill("celery", 1)
    time.sleep(1.1)
    with override_settings(QUEUE_WAIT_WARN=0.5, QUEUE_WAIT_FAIL=60):
        assert _by_key(queue_check())[("wait", "celery")].status == WARN
    with override_settings(QUEUE_WAIT_WARN=0.2, QUEUE_WAIT_FAIL=0.5):
        assert _by_key(queue_check())[("wait", "celery")].status == FAIL
    with monkeypatch.context() as patch:
        patch.setitem(app.conf, "broker_url", "redis://127.0.0.1:1/0")
        (down,) = queue_check()
    assert down.status == FAIL and down.measurement == "responseTime"
    assert "broker unreachable" in down.output and "127.0.0.1" not in down.output
