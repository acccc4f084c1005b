"""HELPDESK_SLA_* variables: seconds per kind and priority, refused unless positive."""

import json
import os
import subprocess

from tests.support.processes import PYTHON, REPO

PRINT_POLICY = "import json; from django.conf import settings; print(json.dumps(settings.HELPDESK_SLA))"


def _settings(**env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_SLA_")}
    return subprocess.run(
        [PYTHON, "-c", f"import django; django.setup(); {PRINT_POLICY}"],
        cwd=REPO,
        env={**base, "DJANGO_SETTINGS_MODULE": "opsproject.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_each_kind_and_priority_reads_its_variable():
    done = _settings(HELPDESK_SLA_FIRST_RESPONSE_URGENT="120", HELPDESK_SLA_RESOLUTION_LOW="86400")
    assert done.returncode == 0, done.stderr
    policy = json.loads(done.stdout)
    assert policy == {
        "first_response": {"urgent": 120, "high": 14400, "normal": 28800, "low": 86400},
        "resolution": {"urgent": 14400, "high": 86400, "normal": 259200, "low": 86400},
    }


def test_a_non_positive_value_is_refused_by_name():
    done = _settings(HELPDESK_SLA_RESOLUTION_HIGH="0")
    assert done.returncode != 0
    assert "HELPDESK_SLA_RESOLUTION_HIGH must be at least 1" in done.stderr

    production = _settings(DJANGO_ENV="production", HELPDESK_SLA_FIRST_RESPONSE_LOW="-5")
    assert production.returncode != 0
    error = production.stderr.strip().splitlines()[-1]
    assert error.startswith("django.core.exceptions.ImproperlyConfigured: DJANGO_ENV=production")
    assert "HELPDESK_SLA_FIRST_RESPONSE_LOW must be at least 1" in error


def test_a_malformed_requester_mail_rate_is_refused():
    done = _settings(HELPDESK_REQUESTER_MAIL_RATE="lots")
    assert done.returncode != 0
    assert "HELPDESK_REQUESTER_MAIL_RATE must look like 20/hour" in done.stderr
    for good in ("5/minute", "100/day"):
        assert _settings(HELPDESK_REQUESTER_MAIL_RATE=good).returncode == 0
    production = _settings(DJANGO_ENV="production", HELPDESK_REQUESTER_MAIL_RATE="0/hour")
    error = production.stderr.strip().splitlines()[-1]
    assert "HELPDESK_REQUESTER_MAIL_RATE must look like 20/hour" in error
