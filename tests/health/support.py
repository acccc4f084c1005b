"""Test helpers for health: a black-hole TCP listener, a uvicorn server, and checks to count.

The checks here are plain @health_check functions that tests name in HEALTH_CHECKS, in this
process or in a server started by a test (which counts its runs in a file, HEALTH_TEST_RUNS).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from contextlib import contextmanager
from email.message import Message
from pathlib import Path
from urllib.parse import quote

from django.db import connection

from health.registry import health_check
from health.results import FAIL, WARN, Result
from tests.support.command_lines import run_command_line
from tests.support.processes import BIN, free_port, running

INFRA_CHECKS = [f"health.checks.{name}" for name in ("database", "cache", "storage", "migrations")]

# --- a dependency that accepts connections and never answers ---------------------------------


class BlackHole:
    """A TCP listener on 127.0.0.1 that accepts every connection and never sends a byte.

    What a hung database or Redis looks like to a client: the connect succeeds, then nothing.
    """

    def __init__(self):
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self._listener.getsockname()[1]
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self._listener.settimeout(0.1)  # closing a socket does not wake a blocked accept()
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            self._held.append(conn)  # kept open, never read, never written

    def close(self) -> None:
        self._closed.set()
        self._thread.join(5)
        self._listener.close()
        for conn in self._held:
            conn.close()

    def __enter__(self) -> BlackHole:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def closed_port() -> int:
    """A port nothing listens on (connections are refused)."""
    return free_port()


# --- checks for the runner's own tests -------------------------------------------------------

calls: Counter = Counter()
returned: Counter = Counter()  # runs that have returned: a probe that answered before did not wait
delays = {"slow": 0.4}
release = threading.Event()  # set to let `hanging` return
meeting = threading.Barrier(2)  # `meet_a` and `meet_b` pass only while both run at once


@health_check("slow")
def slow() -> Result:
    calls["slow"] += 1
    time.sleep(delays["slow"])
    return Result("slow", measurement="sleep", observed_value=delays["slow"], observed_unit="s")


@health_check("slow_b")
def slow_b() -> Result:
    calls["slow_b"] += 1
    time.sleep(delays["slow"])
    return Result("slow_b")


@health_check("hanging", timeout=1, measurement="wait")
def hanging() -> Result:
    calls["hanging"] += 1
    release.wait(30)
    returned["hanging"] += 1
    return Result("hanging", measurement="wait")


@health_check("meet_a", timeout=20)
def meet_a() -> Result:
    meeting.wait(15)  # run one after the other, the first breaks the barrier: a fail
    return Result("meet_a")


@health_check("meet_b", timeout=20)
def meet_b() -> Result:
    meeting.wait(15)
    return Result("meet_b")


@health_check("raising")
def raising() -> Result:
    from django.conf import settings

    calls["raising"] += 1
    raise RuntimeError(f"boom with {settings.SECRET_KEY} at redis://user:hunter22@cache.internal:6379/0")


@health_check("warning")
def warning() -> Result:
    calls["warning"] += 1
    return Result("warning", status=WARN, measurement="level", observed_value=91, output="nearly full")


@health_check("optional")
def optional() -> Result:
    calls["optional"] += 1
    return Result("optional", status=FAIL, output="not there")


@health_check("broken")
def broken():
    return "not a result"


@health_check("counted")
def counted() -> Result:
    """Counts runs in a file (several server processes may run it) and takes a while."""
    with open(os.environ["HEALTH_TEST_RUNS"], "a") as runs:
        runs.write("x")
    time.sleep(float(os.environ.get("HEALTH_TEST_DELAY", "0.5")))
    return Result("counted", measurement="runs")


def use_checks(settings, *names: str, critical: tuple[str, ...] = ()) -> None:
    """Make HEALTH_CHECKS the named checks of this module (pytest-django's `settings`)."""
    settings.HEALTH_CHECKS = [f"tests.health.support.{name}" for name in names]
    settings.HEALTH_CRITICAL = list(critical)


def reset_checks() -> None:
    release.set()
    calls.clear()
    returned.clear()
    delays["slow"] = 0.4
    release.clear()
    meeting.reset()


# --- a real server -----------------------------------------------------------------------------


def database_url() -> str:
    """A DATABASE_URL for the database this test process uses (the test database)."""
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings_dict['NAME']}"
    user = quote(settings_dict["USER"] or "", safe="")
    password = quote(settings_dict["PASSWORD"] or "", safe="")
    credentials = f"{user}:{password}@" if password else f"{user}@"
    scheme = {"mysql": "mysql", "postgresql": "postgres"}[connection.vendor]
    port = settings_dict["PORT"] or {"mysql": 3306, "postgresql": 5432}[connection.vendor]
    return f"{scheme}://{credentials}{settings_dict['HOST']}:{port}/{settings_dict['NAME']}"


@contextmanager
def uvicorn(env: dict[str, str], var_dir: Path, workers: int = 1):
    """A uvicorn serving opsproject.asgi on a free port; yields its base URL."""
    port = free_port()
    argv = [str(BIN / "uvicorn"), "opsproject.asgi:application", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--lifespan", "off", "--workers", str(workers)]
    server_env = {
        "DEBUG": "0",
        "VAR_DIR": str(var_dir),
        "DJANGO_SETTINGS_MODULE": "opsproject.settings",
        "HEALTH_CHECKS": ",".join(INFRA_CHECKS),
        "HEALTH_CRITICAL": "database,cache,storage",
    }
    with running(argv, env={**server_env, **env}) as server:
        server.wait_for_line(r"Application startup complete|Uvicorn running on", timeout=60)
        base = f"http://127.0.0.1:{port}"
        _wait_until_serving(base, server)
        yield base


def _wait_until_serving(base: str, server) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/up", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise AssertionError(f"server did not answer /up:\n{server.output[-3000:]}")


def manage(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> tuple[int, str, float]:
    """`manage.py ...` on the test database (in a fork of a warm interpreter:
    tests/support/command_lines.py): exit code, output, seconds."""
    started = time.monotonic()
    done = run_command_line(
        args,
        env={
            **os.environ,
            "DATABASE_URL": database_url(),
            "HEALTH_CHECKS": ",".join(INFRA_CHECKS),
            "HEALTH_TOKEN": "",
            **(env or {}),
        },
        timeout=timeout,
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def get(
    url: str, token: str = "", timeout: float = 15.0, headers: dict[str, str] | None = None
) -> tuple[int, Message, bytes, float]:
    """GET over real HTTP: status, headers, body and seconds it took; errors are answers too."""
    request = urllib.request.Request(url, headers=headers or {})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, headers, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers, body = error.code, error.headers, error.read()
    return status, headers, body, time.monotonic() - started
