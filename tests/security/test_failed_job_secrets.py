"""A secret in a failing task's exception (a DSN's password, a configured token) is masked before
the failed job is stored, and a row stored before that is shown masked by the API, the admin and
queue_failed."""

from __future__ import annotations

import json

import pytest

from queueops.models import FailedJob
from tests.operations.conftest import make_user
from tests.queueops import tasks
from tests.queueops.conftest import (
    INCLUDE,
    manage,
    queue_env,  # noqa: F401 - the fixture, used by name below
    wait_for,
)
from tests.security.sessions import Session, server
from tests.support.celery_worker import celery_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("queue_env")]

DSN_PASSWORD = "dsn-pa55-Zq81"
TOKEN = "metrics-token-7c2f9e41b0d5a8c3"  # a configured secret (METRICS_TOKEN) of the processes
LEAK = f"cannot reach mysql://app:{DSN_PASSWORD}@db.internal:3306/ops with {TOKEN}"


def _assert_masked(text: str) -> None:
    assert DSN_PASSWORD not in text and TOKEN not in text, text
    assert "mysql://***@db.internal:3306/ops" in text


def test_a_failing_tasks_secret_is_masked_before_it_is_stored(tmp_path, monkeypatch):
    monkeypatch.setenv("METRICS_TOKEN", TOKEN)
    with celery_worker(include=INCLUDE) as worker:
        failed = tasks.always_fails.delay(str(tmp_path / "runs"), LEAK)
        job = wait_for(
            lambda: FailedJob.objects.filter(task_id=failed.id).first(),
            timeout=60,
            message="the failed job",
            worker=worker,
        )
    _assert_masked(job.message)
    _assert_masked(job.traceback)
    assert "***" in job.message and "ValueError" in job.traceback


def test_a_row_stored_before_masking_is_shown_masked_everywhere(tmp_path):
    job = FailedJob.objects.create(
        task_id="stored-before",
        connection="redis://",
        queue="celery",
        task="tests.queueops.always_fails",
        exception="builtins.ValueError",
        message=LEAK,
        traceback=f"Traceback (most recent call last):\nValueError: {LEAK}",
        attempts=3,
    )
    with server(tmp_path, METRICS_TOKEN=TOKEN) as base:
        reader = Session(base, make_user("rhea-ops", staff=True, ops_group=True))
        status, detail = reader.call("get", f"/api/ops/failed-jobs/{job.pk}/")
        assert status == 200
        _assert_masked(detail["message"])
        _assert_masked(detail["traceback"])
        status, listing = reader.call("get", "/api/ops/failed-jobs/")
        _assert_masked(listing["results"][0]["message"])
        status, page = reader.call("get", f"/admin/queueops/failedjob/{job.pk}/change/")
        assert status == 200
        _assert_masked(page)
        status, overview = reader.call("get", "/api/ops/overview/")
        _assert_masked(json.dumps(overview))
    ran = manage("queue_failed", "--json", env={"METRICS_TOKEN": TOKEN})
    assert ran.returncode == 0, ran.stderr
    _assert_masked(ran.stdout)
    ran = manage("queue_failed", env={"METRICS_TOKEN": TOKEN})
    assert DSN_PASSWORD not in ran.stdout and TOKEN not in ran.stdout
