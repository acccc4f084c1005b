"""The run log through real processes: beat sends, a worker runs, every run is recorded."""

import time

import pytest
from celery.exceptions import Retry

from keyvalue import store
from queueops.models import FailedJob
from scheduler.leadership import LEADER_KEY
from scheduler.models import JobRun
from scheduler.periodic import PeriodicJob, every
from scheduler.runlog import NO_OUTCOME, job_statuses, record_finish, record_start
from scheduler.sync import sync_jobs
from tests.scheduler.beat_support import sends, start_beat
from tests.scheduler.scheduler_tasks import periodic_explode
from tests.support.celery_worker import celery_worker


def _wait_for(predicate, timeout, message):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(message)


@pytest.mark.django_db(transaction=True)
def test_each_periodic_run_is_logged_with_its_slot_outcome_and_duration():
    sync_jobs(
        [
            PeriodicJob("t.ok", task="tests.noop", schedule=every(1)),
            # Under the retry policy, as every periodic job is: retried once, then a failed job.
            PeriodicJob("t.boom", task="tests.periodic_explode", schedule=every(1)),
        ]
    )
    store().delete(LEADER_KEY)
    with celery_worker(include="tests.scheduler.scheduler_tasks"):
        beat = start_beat("beat-log", ttl=3, tick=1)
        try:
            _wait_for(
                lambda: (
                    JobRun.objects.filter(job="t.ok", outcome="success").count() >= 3
                    and JobRun.objects.filter(job="t.boom", outcome="failure").exists()
                ),
                timeout=40,
                message=f"runs not logged: {list(JobRun.objects.values('job', 'outcome'))}",
            )
        finally:
            beat.stop()
        sent_slots = {slot for _, _, slot in sends(beat, job="t.ok")}

    ok_runs = list(JobRun.objects.filter(job="t.ok", outcome="success"))
    assert all(run.slot in sent_slots for run in ok_runs), "each run names the slot beat sent"
    assert all(run.finished_at >= run.started_at and run.duration_ms is not None for run in ok_runs)
    failed = JobRun.objects.filter(job="t.boom", outcome="failure").first()
    assert "RuntimeError: periodic job failed on purpose" in failed.error, list(JobRun.objects.values())
    kept = FailedJob.objects.get(task_id=failed.task_id)
    assert kept.task == "tests.periodic_explode" and kept.attempts == 2, "retried once, then kept"
    status = {s.name: s for s in job_statuses()}
    assert status["t.ok"].last_success_at is not None and status["t.ok"].late is False
    assert status["t.boom"].last_success_at is None


@pytest.mark.django_db
def test_an_attempt_after_a_retry_records_its_own_error_not_the_retrys():
    """A retry runs under the same task id, so the same row: each attempt's end says its own error."""
    retry = Retry(exc=RuntimeError("first attempt"), when=1.0)
    periodic_explode.push_request(id="run-1", periodic_task_name="t.retried", beat_slot="t.retried:1")
    try:
        ends = []
        for state, retval in [("RETRY", retry), ("SUCCESS", None), ("RETRY", retry), (None, None)]:
            record_start(task_id="run-1", task=periodic_explode)
            record_finish(task_id="run-1", task=periodic_explode, retval=retval, state=state)
            run = JobRun.objects.get(task_id="run-1")
            ends.append((run.outcome, run.error))
    finally:
        periodic_explode.pop_request()
    retried = ("retry", "Retry: Retry in 1.0s: RuntimeError('first attempt')")
    # No state and no retval: Celery's internal error (a failing result backend, say).
    assert ends == [retried, ("success", ""), retried, ("failure", NO_OUTCOME)]
