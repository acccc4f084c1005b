"""`manage.py health` and `manage.py health_gate` as an operator or a deploy script runs them.

Exit codes: 0 pass/warn, 1 fail (the gate: deadline passed), 2 unreachable or bad usage.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from tests.health import support
from tests.health.support import manage, uvicorn
from tests.support.command_lines import run_command_lines
from tests.support.processes import PYTHON, ManagedProcess, running

TOKEN = "gate-health-token-0123456789abcdef"
pytestmark = pytest.mark.django_db(transaction=True)  # servers and commands use the test database


def test_health_in_process_passes_fast_enough_for_a_container_healthcheck():
    # How fast it answers is bench/'s business: a wall-clock bound fails on a loaded machine.
    code, output, _ = manage("health")
    assert code == 0, output
    assert output.rstrip().endswith("status: pass")
    assert "database:responseTime  default" in output


def test_health_fails_with_exit_1_naming_the_component():
    code, output, _ = manage("health", env={"REDIS_URL": f"redis://127.0.0.1:{support.closed_port()}/4"})
    assert code == 1, output
    assert "fail   cache:responseTime  default  ConnectionError" in output
    assert output.rstrip().endswith("status: fail")


def test_health_json_for_named_components():
    code, output, _ = manage("health", "database", "storage", "--json")
    assert code == 0, output
    document = json.loads(output)
    assert document["status"] == "pass"
    assert sorted(document["checks"]) == ["database:responseTime", "storage:responseTime"]


BAD_USAGE = [
    ("health", "no_such_component"),
    ("health", "--timeout", "0"),
    ("health", "--timeout", "soon"),
    # Past what a thread can wait: an OverflowError traceback, not a wait.
    ("health", "database", "--timeout", "inf"),
    ("health", "database", "--timeout", "1e308"),
    ("health_gate", "--url", "http://127.0.0.1:1", "--timeout", "nan"),
    ("health", "--no-such-option"),
    ("health", "--url", "ftp://example.invalid/health"),
    ("health_gate",),
    ("health_gate", "--url", "http://127.0.0.1:1", "--interval", "0"),
    ("health_gate", "--url", "http://127.0.0.1:1", "--consecutive", "0"),
    ("health_gate", "--url", "not a url"),
]


def test_bad_usage_exits_2():
    # Each a real `manage.py` command line, run in a fork of one warmed-up interpreter.
    env = {**os.environ, "DATABASE_URL": support.database_url(), "HEALTH_TOKEN": ""}
    for ran in run_command_lines(BAD_USAGE, env={**env, "HEALTH_CHECKS": ",".join(support.INFRA_CHECKS)}):
        output = ran.stdout + ran.stderr
        assert ran.returncode == 2, (ran.argv, output)
        assert "Traceback" not in output, ran.argv


def test_health_url_unreachable_exits_2():
    code, output, _ = manage("health", "--url", f"http://127.0.0.1:{support.closed_port()}")
    assert code == 2, output
    assert "unreachable" in output


def test_health_url_probes_a_server(tmp_path):
    broken_redis = {"REDIS_URL": f"redis://127.0.0.1:{support.closed_port()}/4"}
    with (
        uvicorn({"DATABASE_URL": support.database_url()}, tmp_path / "ok") as healthy,
        uvicorn({"DATABASE_URL": support.database_url(), **broken_redis}, tmp_path / "broken") as failing,
    ):
        code, output, _ = manage("health", "--url", healthy)
        assert code == 0 and output.rstrip().endswith("status: pass"), output
        code, output, _ = manage("health", "database", "--json", "--url", f"{healthy}/health")
        assert code == 0, output
        assert list(json.loads(output)["checks"]) == ["database:responseTime"]
        code, output, _ = manage("health", "no_such_component", "--url", healthy)
        assert code == 2 and "unknown component" in output, output

        code, output, _ = manage("health", "--url", failing)
        assert code == 1, output
        assert "fail   cache:responseTime" in output  # statuses only: the server has no token


def test_gate_passes_once_a_dependency_comes_up(tmp_path):
    redis_port = support.closed_port()
    env = {
        "DATABASE_URL": support.database_url(),
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/4",
        "HEALTH_TOKEN": TOKEN,
    }
    with uvicorn(env, tmp_path / "var") as base:
        gate = ManagedProcess(
            [PYTHON, "manage.py", "health_gate", "--url", base, "--interval", "0.3", "--timeout", "60"],
            # This server runs the infrastructure checks only: no workers, beats or realtime.
            env={
                "DATABASE_URL": support.database_url(),
                "HEALTH_TOKEN": TOKEN,
                "HEALTH_GATE_REQUIRE": "cache",
            },
        )
        try:
            gate.wait_for_line(r"probe 2: fail .*cache:responseTime", timeout=30)
            # A Redis of this test's own, on the port the server was configured with.
            redis = ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1"]
            redis += ["--save", "", "--appendonly", "no", "--dir", str(tmp_path)]
            with running(redis) as server:
                server.wait_for_line(r"Ready to accept connections", timeout=30)
                assert gate.proc.wait(60) == 0, gate.output
        finally:
            gate.stop()
    assert "healthy: 3 consecutive passing probes" in gate.output
    assert "(3/3)" in gate.output and "(0/3)" in gate.output


def test_gate_gives_up_at_its_timeout_naming_what_fails(tmp_path):
    env = {
        "DATABASE_URL": support.database_url(),
        "REDIS_URL": f"redis://127.0.0.1:{support.closed_port()}/4",
    }
    with uvicorn(env, tmp_path / "var") as base:
        code, output, elapsed = manage(
            "health_gate", "--url", base, "--token", "", "--interval", "0.5", "--timeout", "3"
        )
    assert code == 1, output
    assert "gave up after 3 s; last probe: fail (HTTP 503): cache:responseTime" in output
    # It kept probing until its timeout (how long past it depends on the machine's load, not on
    # the gate: no upper bound here), and stopped probing then.
    assert elapsed >= 3
    probes = [int(number) for number in re.findall(r"^probe (\d+): ", output, re.MULTILINE)]
    assert probes == list(range(1, len(probes) + 1)) and len(probes) <= 3 / 0.5 + 1, output


def test_gate_counts_an_unreachable_server_as_failing():
    url = f"http://127.0.0.1:{support.closed_port()}"
    code, output, _ = manage("health_gate", "--url", url, "--interval", "0.2", "--timeout", "1")
    assert code == 1, output
    assert "last probe: unreachable" in output


def test_gate_fails_on_a_warn_of_a_required_check_and_lets_other_warnings_pass(tmp_path):
    checks = ",".join([*support.INFRA_CHECKS, "tests.health.support.warning"])
    env = {"DATABASE_URL": support.database_url(), "HEALTH_CHECKS": checks}
    gate = ("health_gate", "--interval", "0.2", "--timeout", "2", "--consecutive", "2")
    with uvicorn(env, tmp_path / "var") as base:
        code, output, _ = manage(*gate, "--url", base, env={"HEALTH_GATE_REQUIRE": "database,warning:level"})
        assert code == 1, output
        assert "last probe: warn (HTTP 200): required warning:level warn" in output

        code, output, _ = manage(*gate, "--url", base, "--require", "database,cache")
        assert code == 0, output
        assert "probe 1: warn (1/2)" in output, "the warning is shown, and passes"

        code, output, _ = manage(*gate, "--url", base, "--require", "database,scheduler")
        assert code == 1, output
        assert "required scheduler missing" in output, "a required check the server does not run"
