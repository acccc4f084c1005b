"""schedule_run runs a periodic job now through a real worker; schedule_test lists the coming runs."""

from __future__ import annotations

import json

import pytest
from django_celery_beat.models import PeriodicTask

from audit.models import AuditEntry
from queueops.models import FailedJob
from scheduler.models import JobRun
from scheduler.periodic import PeriodicJob, cron, every
from scheduler.sync import sync_jobs
from tests.queueops.conftest import manage
from tests.support.celery_worker import celery_worker

pytestmark = pytest.mark.django_db(transaction=True)

JOBS = [
    PeriodicJob("t.ok", task="tests.noop", schedule=every(600)),
    PeriodicJob("t.fails", task="tests.periodic_explode", schedule=every(600)),
    PeriodicJob("t.nightly", task="tests.noop", schedule=cron("30 3 * * *")),
]


def test_a_job_run_now_succeeds_and_a_failing_one_is_retried_then_kept_as_a_failed_job():
    sync_jobs(JOBS)
    with celery_worker(include="tests.scheduler.scheduler_tasks"):
        ok = manage("schedule_run", "t.ok")
        failing = manage("schedule_run", "t.fails", "--json")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "t.ok: success in" in ok.stdout
    assert failing.returncode == 1, failing.stdout + failing.stderr
    outcome = json.loads(failing.stdout)
    assert outcome["outcome"] == "failure" and outcome["retries"] == 1
    assert "RuntimeError: periodic job failed on purpose" in outcome["error"]
    # The policy retried it and kept it as a failed job; the run log has its final outcome.
    failed = FailedJob.objects.get(task_id=outcome["task_id"])
    assert failed.task == "tests.periodic_explode" and failed.attempts == 2
    assert JobRun.objects.get(task_id=outcome["task_id"]).outcome == JobRun.FAILURE
    runs = AuditEntry.objects.filter(action="schedule.run", channel=AuditEntry.COMMAND)
    assert {(e.target, e.outcome) for e in runs} == {("t.ok", AuditEntry.OK), ("t.fails", AuditEntry.FAILED)}


def test_an_unknown_job_is_a_usage_error_that_lists_the_jobs():
    sync_jobs(JOBS)
    ran = manage("schedule_run", "no.such.job")
    assert ran.returncode == 2
    assert ran.stderr.strip().count("\n") == 0, ran.stderr
    assert "no periodic job named 'no.such.job'" in ran.stderr and "t.fails, t.nightly, t.ok" in ran.stderr
    assert not AuditEntry.objects.filter(action="schedule.run").exists()


def test_schedule_test_lists_the_runs_of_the_window_with_their_times():
    sync_jobs(JOBS)
    PeriodicTask.objects.filter(name="t.fails").update(enabled=False)
    listed = manage("schedule_test", "--minutes", "25", "--json")
    assert listed.returncode == 0, listed.stderr
    jobs = {job["name"]: job for job in json.loads(listed.stdout)["jobs"]}
    # Every 10 minutes from now (never run yet): 2 runs in 25 minutes; a paused job is not listed.
    assert len(jobs["t.ok"]["times"]) == 2
    assert "t.fails" not in jobs
    day = manage("schedule_test", "--minutes", str(24 * 60))
    assert day.returncode == 0 and "t.nightly (tests.noop): 1 run(s) at " in day.stdout
    assert manage("schedule_test", "--minutes", "0").returncode == 2
