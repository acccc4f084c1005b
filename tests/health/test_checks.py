"""The infrastructure checks against the real MariaDB and Redis, working and really broken.

Broken means a port nothing listens on, or a black hole: a listener that accepts and never
answers. The machine's shared services are never stopped. Database failures need a process
whose DATABASE_URL points elsewhere, so those run `manage.py health` as a child process.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.db import connection

from health import checks, runner
from health.registry import checks_of
from health.results import FAIL, PASS, WARN
from tests.health import support
from tests.health.support import manage
from tests.support.waiting import wait_until


def _redis_cache(url: str) -> dict:
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "ops",
            "OPTIONS": {"socket_connect_timeout": 5.0, "socket_timeout": 5.0},
        }
    }


def _probe(component: str, timeout: float | None = None):
    return runner.run(checks_of(component), timeout=timeout)


# --- database ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_database_passes_with_a_response_time():
    [result] = _probe("database").results
    assert result.status == PASS, result.output
    assert result.key == "database:responseTime" and result.component_id == "default"
    assert result.observed_unit == "ms" and 0 < result.observed_value < 2000


@pytest.mark.django_db(transaction=True)
def test_database_check_uses_a_new_connection_with_the_deadline_as_client_timeout():
    wrapper = checks._connection("default", 3)
    options = wrapper.settings_dict["OPTIONS"]
    if connection.vendor == "mysql":
        assert options["connect_timeout"] == 3 and options["read_timeout"] == 3
    assert wrapper is not connection and wrapper.connection is None


def test_database_fails_on_a_port_nothing_listens_on():
    port = support.closed_port()
    code, output, _ = manage(
        "health", "database", "--json", env={"DATABASE_URL": f"mysql://root@127.0.0.1:{port}/ops_health"}
    )
    assert code == 1, output
    [entry] = json.loads(output)["checks"]["database:responseTime"]
    assert entry["status"] == FAIL and "OperationalError" in entry["output"]
    assert "Can't connect" in entry["output"]


def test_database_black_hole_fails_at_the_deadline(black_hole):
    code, output, _ = manage(
        "health",
        "database",
        "migrations",
        "--json",
        "--timeout",
        "1",
        env={"DATABASE_URL": f"mysql://root@127.0.0.1:{black_hole.port}/ops_health"},
    )
    assert code == 1, output
    document = json.loads(output)
    assert document["checks"]["database:responseTime"][0]["output"] == "timed out after 1 s"
    assert document["checks"]["migrations:unapplied"][0]["output"] == "timed out after 1 s"
    # Timed out at the 1 s deadline, not failed by the application's 5 s connect timeout.
    assert black_hole.accepted >= 1, "the check never reached the black hole"


# --- cache ------------------------------------------------------------------------------------


def test_cache_passes_with_a_round_trip_time():
    [result] = _probe("cache").results
    assert result.status == PASS, result.output
    assert result.key == "cache:responseTime" and result.observed_unit == "ms"


def test_cache_fails_on_a_port_nothing_listens_on(settings):
    settings.CACHES = _redis_cache(f"redis://127.0.0.1:{support.closed_port()}/4")
    [result] = _probe("cache").results
    assert result.status == FAIL
    assert result.output.startswith("ConnectionError:") and "refused" in result.output


def test_cache_black_hole_fails_at_the_deadline_and_frees_its_thread(settings, black_hole):
    settings.CACHES = _redis_cache(f"redis://127.0.0.1:{black_hole.port}/4")
    settings.HEALTH_CACHE_SECONDS = 0
    report = _probe("cache", timeout=0.5)  # the black hole never answers: only the deadline ends it
    [result] = report.results
    assert result.status == FAIL and result.output == "timed out after 0.5 s"

    # Ten pollers probe for 1.5 s: the hung run is never started a second time, and the
    # client's own socket timeout (the deadline, not the app's 5 s) ends each run, so runs
    # follow one another, at most one at a time, instead of piling up.
    deadline = time.monotonic() + 1.5
    probes = []

    def poll():
        while time.monotonic() < deadline:
            probes.append(_probe("cache", timeout=0.5).status)
            time.sleep(0.02)

    pollers = [threading.Thread(target=poll) for _ in range(10)]
    for poller in pollers:
        poller.start()
    for poller in pollers:
        poller.join(10)
    assert len(probes) >= 20 and set(probes) == {FAIL}
    assert black_hole.accepted <= 5, f"{black_hole.accepted} runs for {len(probes)} probes over 1.5 s"
    [flight] = runner._flights.values()
    wait_until(
        flight.future.done,
        2.5,
        "the check's thread to end at its socket timeout (the deadline, not the app's 5 s)",
    )


# --- storage ----------------------------------------------------------------------------------


def test_storage_passes_and_leaves_no_file(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    [result] = _probe("storage").results
    assert result.status == PASS, result.output
    assert result.observed_unit == "ms"
    assert list((tmp_path / "media").rglob("*.txt")) == []


def test_storage_fails_when_its_folder_cannot_be_written(settings, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the media folder should be")
    settings.MEDIA_ROOT = blocker / "media"
    [result] = _probe("storage").results
    assert result.status == FAIL
    assert "NotADirectoryError" in result.output or "FileExistsError" in result.output


# --- migrations -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_migrations_pass_when_all_are_applied():
    [result] = _probe("migrations").results
    assert result.status == PASS, result.output
    assert result.observed_value == 0


@pytest.mark.django_db(transaction=True)
def test_migrations_warn_when_one_is_not_applied_and_so_does_the_aggregate(settings):
    from django.db.migrations.recorder import MigrationRecorder

    applied = MigrationRecorder.Migration.objects.get(app="sessions", name="0001_initial")
    applied.delete()
    try:
        [result] = _probe("migrations").results
        assert result.status == WARN
        assert result.observed_value == 1 and result.output == "unapplied: sessions.0001_initial"
        aggregate = runner.run()
        assert aggregate.status == WARN, aggregate
    finally:
        MigrationRecorder.Migration.objects.create(app="sessions", name="0001_initial")
