"""The endpoints over real HTTP, from a uvicorn process each test starts.

A black-holed database and Redis must not stretch /health past its deadline nor slow other
requests; 50 concurrent probes, to one server or split between two, run a check once.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.health import support
from tests.health.support import get, uvicorn

TOKEN = "server-health-token-0123456789abcdef"
# The servers use the test database: this makes sure it exists and holds what tests commit.
pytestmark = pytest.mark.django_db(transaction=True)


def _storm(urls: list[str]) -> list[int]:
    """GET every URL at once (one thread each, released together): the status codes."""
    barrier = threading.Barrier(len(urls))

    def one(url: str) -> int:
        barrier.wait()
        return get(url)[0]

    with ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(one, urls))


def test_black_holed_database_and_redis_answer_503_within_the_deadline(tmp_path):
    with support.BlackHole() as database, support.BlackHole() as redis:
        env = {
            "DATABASE_URL": f"mysql://root@127.0.0.1:{database.port}/ops_health",
            "REDIS_URL": f"redis://127.0.0.1:{redis.port}/4",
            "HEALTH_TIMEOUT": "2",
            "HEALTH_TOKEN": TOKEN,
        }
        with uvicorn(env, tmp_path) as base, ThreadPoolExecutor(4) as pool:
            probe = pool.submit(get, f"{base}/health")
            # While the checks hang, the same process keeps answering everything else.
            others = [get(f"{base}{path}") for path in ("/up", "/health/live", "/health/app", "/up")]
            answered_first = not probe.done()
            status, headers, body, _ = probe.result()
            assert status == 503
            assert headers["Content-Type"] == "application/health+json"
            document = json.loads(body)
            assert document["status"] == "fail"
            assert document["checks"]["database:responseTime"] == [{"status": "fail"}]
            assert document["checks"]["cache:responseTime"] == [{"status": "fail"}]
            assert document["checks"]["storage:responseTime"] == [{"status": "pass"}]
            assert [other[0] for other in others] == [200] * 4
            assert answered_first, "the other paths waited for the hung checks' deadline"
            assert database.accepted >= 1 and redis.accepted >= 1

            # The hung runs are not started again: the next probes report them as timed out
            # (the deadline, not the app's 5 s connect timeout) without a new connection.
            accepted = (database.accepted, redis.accepted)
            status, _, body, _ = get(f"{base}/health", token=TOKEN)
            assert status == 503 and (database.accepted, redis.accepted) == accepted
            checks = json.loads(body)["checks"]
            assert checks["database:responseTime"][0]["output"] == "timed out after 2 s"
            assert checks["cache:responseTime"][0]["output"] == "timed out after 2 s"
            assert checks["migrations:unapplied"][0]["output"] == "timed out after 2 s"
            status, _, body, _ = get(f"{base}/health/cache")
            assert status == 503, body


def test_a_healthy_server_passes_and_shows_details_only_with_the_token(tmp_path):
    env = {"DATABASE_URL": support.database_url(), "HEALTH_TOKEN": TOKEN}
    with uvicorn(env, tmp_path) as base:
        status, headers, body, _ = get(f"{base}/health")
        assert status == 200, body
        anonymous = json.loads(body)
        assert all(entries == [{"status": "pass"}] for entries in anonymous["checks"].values()), body
        assert headers["Cache-Control"].startswith("max-age=")

        status, _, body, _ = get(f"{base}/health", token=TOKEN)
        assert json.loads(body)["status"] == "pass", body
        [database] = json.loads(body)["checks"]["database:responseTime"]
        assert database["componentId"] == "default" and database["observedUnit"] == "ms"
        status, _, body, _ = get(f"{base}/health", token="wrong-token")
        assert json.loads(body) == anonymous

        status, _, body, _ = get(f"{base}/health/nothing_like_it")
        assert status == 404 and json.loads(body)["status"] == "fail"


def _counting_env(runs_file) -> dict[str, str]:
    return {
        "DATABASE_URL": support.database_url(),
        "HEALTH_CHECKS": "tests.health.support.counted",
        "HEALTH_CRITICAL": "counted",
        "HEALTH_CACHE_SECONDS": "5",
        "HEALTH_TEST_RUNS": str(runs_file),
        "HEALTH_TEST_DELAY": "0.5",
    }


def test_50_concurrent_probes_run_each_check_once(tmp_path):
    runs = tmp_path / "runs"
    runs.touch()
    with uvicorn(_counting_env(runs), tmp_path / "var") as base:
        statuses = _storm([f"{base}/health"] * 50)
    assert statuses == [200] * 50
    assert runs.read_text() == "x", f"{len(runs.read_text())} runs for 50 concurrent probes"


def test_50_concurrent_probes_split_between_two_server_processes_run_each_check_once(tmp_path):
    runs = tmp_path / "runs"
    runs.touch()
    var_dir = tmp_path / "var"  # one host: both processes share HEALTH_STATE_DIR under it
    env = _counting_env(runs)
    with uvicorn(env, var_dir) as first, uvicorn(env, var_dir) as second:
        statuses = _storm([f"{first}/health", f"{second}/health"] * 25)
    assert statuses == [200] * 50
    assert runs.read_text() == "x", f"{len(runs.read_text())} runs for 50 probes over 2 processes"


def test_probes_answer_any_host_and_staff_sessions_get_details(tmp_path):
    from django.contrib.auth.models import User
    from django.test import Client

    staff, agent = User.objects.create_user("ops", is_staff=True), User.objects.create_user("agent")
    cookies = {}
    for user in (staff, agent):
        client = Client()
        client.force_login(user)
        cookies[user.username] = client.cookies["sessionid"].value
    env = {"DATABASE_URL": support.database_url()}
    with uvicorn(env, tmp_path) as base:
        # Orchestrators probe by IP: the Host header is not one of ALLOWED_HOSTS.
        assert get(f"{base}/health", headers={"Host": "10.1.2.3:8000"})[0] == 200
        assert get(f"{base}/admin/login/", headers={"Host": "10.1.2.3:8000"})[0] == 400

        _, _, body, _ = get(f"{base}/health", headers={"Cookie": f"sessionid={cookies['ops']}"})
        [database] = json.loads(body)["checks"]["database:responseTime"]
        assert database["observedUnit"] == "ms"
        _, _, body, _ = get(f"{base}/health", headers={"Cookie": f"sessionid={cookies['agent']}"})
        assert json.loads(body)["checks"]["database:responseTime"] == [{"status": "pass"}]
