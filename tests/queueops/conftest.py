"""Fixtures of the queueops tests: a clean store and queues, worker settings, manage.py runs."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import pytest
from django.conf import settings

from keyvalue import store
from opsproject.celery import app
from queueops.keys import PREFIX
from tests.support.celery_worker import child_env
from tests.support.command_lines import run_command_line
from tests.support.waiting import wait_until

INCLUDE = "tests.queueops.tasks"
# Short waits for the worker processes the tests start (the settings are read at their start).
WORKER_ENV = {
    "QUEUE_TRIES": "3",
    "QUEUE_BACKOFF": "1,2",
    "QUEUE_HEARTBEAT_INTERVAL": "0.5",
    "QUEUE_HEARTBEAT_MAX_AGE": "2",
}
TEST_QUEUES = ("celery", "qo_alert", "qo_monitor", "qo_probe", "qo_idle")


def clear_store() -> None:
    if settings.REDIS_URL:
        client = store().client
        keys = list(client.scan_iter(f"{PREFIX}*"))
        if keys:
            client.delete(*keys)
    else:
        from django.core.cache import cache

        cache.delete_many([f"{PREFIX}workers"])


def purge(*queues: str) -> None:
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in queues:
            channel.queue_purge(queue)
    if settings.REDIS_URL:  # messages a killed worker held: not for the next test
        client = store().client
        client.delete("unacked", "unacked_index")


@pytest.fixture
def queue_env(monkeypatch):
    """Worker settings for the processes this test starts; store and test queues emptied."""
    for name, value in WORKER_ENV.items():
        monkeypatch.setenv(name, value)
    clear_store()
    purge(*TEST_QUEUES)
    yield WORKER_ENV
    clear_store()
    purge(*TEST_QUEUES)


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def manage(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Ran:
    """Run `manage.py ARGS` as the command line does, on the test database and broker (in a
    fork of a warm interpreter: tests/support/command_lines.py)."""
    started = time.monotonic()
    done = run_command_line(args, env={**os.environ, **child_env(), **(env or {})}, timeout=timeout)
    return Ran(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def assert_alive(hostname: str) -> None:
    """`queue_worker_alive` (the container healthcheck) answers 0 for `hostname`. How fast it
    answers is bench/'s business: a wall-clock bound fails on a loaded machine, not on a bug."""
    alive = manage("queue_worker_alive", "--hostname", hostname)
    assert alive.returncode == 0, alive.stderr
    assert "alive (pid" in alive.stdout


def runs(path) -> list[float]:
    """Start times of the runs a test task recorded in `path`."""
    try:
        return [float(line.split()[0]) for line in path.read_text().splitlines()]
    except FileNotFoundError:
        return []


def wait_for(predicate, timeout: float = 30, interval: float = 0.1, message: str = "condition", worker=None):
    """Poll until `predicate()` is truthy; on time-out, fail with the worker's last output."""
    explain = (lambda: f"worker output:\n{worker.output[-4000:]}") if worker is not None else None
    return wait_until(predicate, timeout, message, interval=interval, explain=explain)
