"""queue_restart with real workers kept up by a supervisor loop, as compose's restart policy does."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict

import pytest

from audit.models import AuditEntry
from keyvalue import store
from queueops.heartbeat import WorkerBeat, worker, workers
from queueops.keys import WORKERS_BOARD
from tests.queueops import tasks
from tests.queueops.conftest import INCLUDE, manage, runs
from tests.support.celery_worker import child_env
from tests.support.processes import BIN
from tests.support.supervisor import Supervised
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _worker(name: str, env: dict[str, str]) -> Supervised:
    argv = [str(BIN / "celery"), "-A", "opsproject", "worker", "--loglevel=INFO", "--pool=prefork"]
    argv += ["--concurrency=1", "--without-gossip", "--without-mingle", "--queues=qo_idle"]
    argv += [f"--hostname={name}@%h", f"--include={INCLUDE}"]
    return Supervised(argv, env=env)


def _hostname(name: str) -> str:
    return next(beat.hostname for beat in workers() if beat.hostname.startswith(f"{name}@"))


def test_every_worker_finishes_its_task_restarts_and_a_missing_one_is_named(queue_env, tmp_path):
    env = {**os.environ, **child_env(**queue_env)}
    a, b = _worker("qr-a", env), _worker("qr-b", env)
    try:
        wait_until(lambda: len(workers()) == 2, 120, "two workers on the board")
        before = {beat.hostname: beat for beat in workers()}
        path = tmp_path / "runs"
        tasks.sleep_then_mark.apply_async(args=[str(path), 3.0], queue="qo_idle")
        wait_until(lambda: runs(path), 60, "the long task under way")

        ran = manage("queue_restart", "--timeout", "120")
        assert ran.returncode == 0, ran.stderr + a.current.output[-2000:] + b.current.output[-2000:]
        assert ran.stdout.strip().endswith("All 2 workers restarted.")
        for hostname, old in before.items():
            new = worker(hostname)
            assert f"{hostname}: back (pid {new.pid}" in ran.stdout
            assert new.pid != old.pid and new.started_at > old.started_at
        # The task in flight was finished by the worker that ran it, once, before it exited.
        assert len(runs(path)) == 1 and len(runs(tmp_path / "runs.done")) == 1
        assert len(a.runs) == 2 and len(b.runs) == 2
        assert "Got shutdown from remote" in a.runs[0].output

        # A worker its process manager does not bring back is named, and the run exits 1.
        b.supervise = False
        missing = _hostname("qr-b")
        ran = manage("queue_restart", "--timeout", "20")
        assert ran.returncode == 1
        assert ran.stderr.strip().startswith(f"Not back within 20 s: {missing} ")
        assert f"{_hostname('qr-a')}: back" in ran.stdout
        entry = AuditEntry.objects.filter(action="queue.restart").order_by("-id").first()
        assert entry.outcome == AuditEntry.FAILED and entry.detail["missing"] == [missing]
    finally:
        a.stop()
        b.stop()


def test_no_live_worker_is_exit_1(queue_env):
    ran = manage("queue_restart", "--timeout", "1")
    assert ran.returncode == 1 and "No live worker" in ran.stderr


def _fake_live_worker(hostname: str) -> None:
    now = time.time()
    beat = WorkerBeat(hostname, 4242, ["qo_idle"], 0, 0, 1, started_at=now - 60, at=now)
    store().board_put(WORKERS_BOARD, hostname, json.dumps(asdict(beat)))


@pytest.mark.parametrize("broker", ["redis://127.0.0.1:1/0", "amqp://guest:s3cr3tpw@127.0.0.1:1/none"])
def test_a_broker_that_does_not_answer_is_one_line_and_exit_1(queue_env, broker):
    _fake_live_worker("qr-fake@nowhere")
    # The fake beat is never refreshed: a command that takes long to start on a loaded machine
    # must still see it alive, so the test reads it with an hour's patience.
    env = {"CELERY_BROKER_URL": broker, "QUEUE_HEARTBEAT_MAX_AGE": "3600"}
    ran = manage("queue_restart", "--timeout", "1", env=env)
    assert ran.returncode == 1 and "Traceback" not in ran.stderr, ran.stderr[-2000:]
    assert len(ran.stderr.strip().splitlines()) == 1 and "broker" in ran.stderr
    assert "s3cr3tpw" not in ran.stderr
    entry = AuditEntry.objects.filter(action="queue.restart").order_by("-id").first()
    assert entry.outcome == AuditEntry.FAILED


def test_an_unreadable_heartbeat_board_is_one_line_and_exit_1(queue_env):
    from django.conf import settings

    env = {"REDIS_URL": "redis://127.0.0.1:1/0", "CELERY_BROKER_URL": settings.CELERY_BROKER_URL}
    ran = manage("queue_restart", "--timeout", "1", env=env)
    assert ran.returncode == 1 and "Traceback" not in ran.stderr, ran.stderr[-2000:]
    assert len(ran.stderr.strip().splitlines()) == 1 and "heartbeats unreadable" in ran.stderr
