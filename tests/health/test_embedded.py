"""The infrastructure checks in the embedded profile (`make run`): SQLite and the database cache."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from health import runner
from health.results import PASS
from tests.health.support import manage

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(transaction=True)]


def test_every_infra_check_passes_on_sqlite_and_the_database_cache(settings, tmp_path):
    assert connection.vendor == "sqlite"
    settings.MEDIA_ROOT = tmp_path / "media"
    report = runner.run()
    assert report.status == PASS, report
    assert [result.key for result in report.results] == [
        "database:responseTime",
        "cache:responseTime",
        "storage:responseTime",
        "migrations:unapplied",
    ]
    assert all(result.status == PASS for result in report.results)


def test_manage_health_passes_in_the_embedded_profile():
    code, output, _ = manage("health", "--json", env={"REDIS_URL": ""})
    assert code == 0, output
    assert json.loads(output)["status"] == "pass"
