"""The websocket limit settings: a value that would lock every client out is refused at start-up."""

import os
import subprocess

import pytest

from tests.opsproject.test_production_settings import GOOD
from tests.support.processes import PYTHON, REPO

LOCKOUTS = {
    "REALTIME_MAX_MESSAGE_BYTES": "100",
    "REALTIME_MAX_SUBSCRIPTIONS": "0",
    "REALTIME_MAX_CONNECTIONS_PER_IP": "-1",
    "REALTIME_SUBSCRIBE_RATE": "0",
    "REALTIME_CLIENT_EVENT_RATE": "0",
}


def check(env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in (*GOOD, *LOCKOUTS, "VAR_DIR")}
    argv = [PYTHON, "manage.py", "check"]
    return subprocess.run(argv, cwd=REPO, env={**base, **env}, capture_output=True, text=True, timeout=60)


def test_production_names_every_lockout_value_in_its_one_error():
    done = check({**GOOD, **LOCKOUTS})
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("django.core.exceptions.")]
    assert len(errors) == 1, done.stderr
    for name in LOCKOUTS:
        assert f"{name} must be at least" in errors[0]


@pytest.mark.parametrize(("name", "value"), LOCKOUTS.items())
def test_development_refuses_a_lockout_value_with_a_one_line_reason(name, value):
    done = check({name: value})
    assert done.returncode != 0
    assert f"{name} must be at least" in done.stderr and value in done.stderr


def test_no_limit_on_connections_per_address_is_allowed():
    done = check({"REALTIME_MAX_CONNECTIONS_PER_IP": "0"})
    assert done.returncode == 0, done.stderr
