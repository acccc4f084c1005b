"""Each compose healthcheck, run as written against the real process it guards.

No Docker engine runs here, so the services' own command lines start locally (gunicorn with
uvicorn workers, uvicorn, celery worker, celery beat, redis-server) and each healthcheck's
command line runs as Docker would run it: 0 while the process is alive, non-zero within its
interval x retries once the process is killed or hangs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from keyvalue import store
from queueops.keys import WORKERS_BOARD
from tests.deploy.compose_file import seconds, services
from tests.support.celery_worker import child_env
from tests.support.processes import BIN, REPO, ManagedProcess, free_port, running


def _local(argv: list[str], port: int | None = None) -> list[str]:
    """A compose command line as it runs here: our venv's executables, our free port."""
    out = []
    for arg in argv:
        if port is not None:
            arg = arg.replace(":8000", f":{port}").replace(":8080", f":{port}").replace("=8080", f"={port}")
        out.append(arg)
    if out[0] == "python":
        out[0] = sys.executable
    elif (BIN / out[0]).exists():
        out[0] = str(BIN / out[0])
    return out


def _healthcheck(name: str, port: int | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    check = services()[name]["healthcheck"]
    kind, *rest = check["test"]
    # CMD-SHELL runs in a shell, and compose turns $$ into $ before the shell sees it.
    argv = _local(rest, port) if kind == "CMD" else ["sh", "-c", rest[0].replace("$$", "$")]
    limit = seconds(check["timeout"])
    try:
        return subprocess.run(
            argv,
            cwd=REPO,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=limit + 5,
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, 124, "", "timed out")


def _budget(name: str) -> float:
    check = services()[name]["healthcheck"]
    return seconds(check["interval"]) * check["retries"]


def _fails_within(name: str, budget: float, **kwargs) -> float:
    started = time.monotonic()
    while time.monotonic() - started < budget:
        if _healthcheck(name, **kwargs).returncode != 0:
            return time.monotonic() - started
        time.sleep(1)
    raise AssertionError(f"{name} healthcheck still passes {budget:.0f} s after the process went away")


def _wait_passing(name: str, timeout: float = 30, **kwargs) -> subprocess.CompletedProcess:
    deadline = time.monotonic() + timeout
    while True:
        done = _healthcheck(name, **kwargs)
        if done.returncode == 0 or time.monotonic() > deadline:
            return done
        time.sleep(0.5)


@pytest.mark.parametrize("name", ["web", "realtime"])
def test_http_services_healthcheck_passes_then_fails_when_hung_and_when_killed(name):
    port = free_port()
    argv = _local(services()[name]["command"], port)
    argv = [a for a in argv if not a.startswith("--workers=")] + (["--workers=1"] if name == "web" else [])
    with running(argv, env=child_env()) as server:
        done = _wait_passing(name, port=port)
        assert done.returncode == 0, done.stderr + server.output[-3000:]

        server.signal(signal.SIGSTOP)  # a hung server: accepts nothing, answers nothing
        try:
            # The first run after the hang already fails (Docker also counts a run killed at
            # its timeout as failed); no wall-clock bound, which a loaded machine breaks.
            hung = _healthcheck(name, port=port)
            assert hung.returncode != 0, hung.stdout + hung.stderr
        finally:
            server.signal(signal.SIGCONT)
        assert _wait_passing(name, port=port).returncode == 0

        server.signal(signal.SIGKILL)
        assert _fails_within(name, _budget(name), port=port) < _budget(name)


# The processes below beat faster and go stale sooner than in production, so the test waits
# seconds, not the production limits; those fit compose's budget, checked here from the settings.
FAST_HEARTBEATS = {
    "QUEUE_HEARTBEAT_INTERVAL": "0.5",
    "QUEUE_HEARTBEAT_MAX_AGE": "3",
    "BEAT_LOCK_TTL": "4",
    "BEAT_MAX_INTERVAL": "1",
}


def test_production_heartbeat_limits_fit_the_healthcheck_budgets():
    from django.conf import settings

    assert _budget("worker") > settings.QUEUE_HEARTBEAT_MAX_AGE
    assert _budget("beat") > settings.BEAT_HEARTBEAT_MAX_AGE


@pytest.mark.django_db(transaction=True)
def test_worker_and_beat_healthchecks_pass_then_fail_after_sigkill():
    env = child_env(**FAST_HEARTBEATS)
    worker = ManagedProcess([*_local(services()["worker"]["command"]), "--concurrency=1"], env=env)
    beat = ManagedProcess(_local(services()["beat"]["command"]), env=env)
    try:
        worker.wait_for_line(r"ready\.", timeout=60)
        beat.wait_for_line(r"beat: Starting", timeout=60)
        for name in ("worker", "beat"):
            done = _wait_passing(name, env=env)
            assert done.returncode == 0, f"{name}: {done.stderr}"

        worker.signal(signal.SIGKILL)
        beat.signal(signal.SIGKILL)
        took = {}

        def measure(name):
            took[name] = _fails_within(name, _budget(name), env=env)

        threads = [threading.Thread(target=measure, args=(n,)) for n in ("worker", "beat")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert set(took) == {"worker", "beat"}, "a healthcheck kept passing after its process died"
        print(f"healthcheck failed after SIGKILL: {took}")
    finally:
        worker.stop()
        beat.stop()
        # Its heartbeat is stale by this test's 3 s, not yet by the default 15 s a later test's
        # probe of the same worker@%h reads: take it off the board, as a clean stop would.
        store().board_remove(WORKERS_BOARD, f"worker@{socket.gethostname()}")


def test_redis_healthcheck(tmp_path):
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(tmp_path)]
    with running(argv) as redis:
        redis.wait_for_line(r"Ready to accept connections", timeout=30)
        assert _healthcheck("redis", env={"REDIS_PORT": str(port)}).returncode == 0
        redis.signal(signal.SIGKILL)
        assert _fails_within("redis", _budget("redis"), env={"REDIS_PORT": str(port)}) < _budget("redis")


def test_mariadb_healthcheck_against_a_live_a_dead_and_a_hung_server():
    assert _healthcheck("mariadb", env={"MYSQL_TCP_PORT": "3306"}).returncode == 0
    assert _healthcheck("mariadb", env={"MYSQL_TCP_PORT": str(free_port())}).returncode != 0
    with socket.socket() as hole:  # accepts connections and never says a word
        hole.bind(("127.0.0.1", 0))
        hole.listen(16)
        hung = _healthcheck("mariadb", env={"MYSQL_TCP_PORT": str(hole.getsockname()[1])})
        assert hung.returncode != 0
