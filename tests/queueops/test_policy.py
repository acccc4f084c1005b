"""The retry policy through a real worker on Redis and MariaDB (backoff 1 s, 2 s; 3 tries)."""

import os
import signal
import time
from itertools import pairwise

import pytest
from django.conf import settings

from keyvalue import store
from opsproject.celery import app as celery_app
from queueops.models import FailedJob
from queueops.policy import PolicyTask, wait_after
from tests.queueops import tasks
from tests.queueops.conftest import INCLUDE, runs, wait_for
from tests.support.celery_worker import celery_worker
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def nothing_pending(queue: str = "celery") -> bool:
    """No message waits in `queue` and the worker holds none (a retry's countdown keeps it in
    Redis' `unacked` hash until it runs): no further attempt can come."""
    client = store().client
    return client.llen(queue) == 0 and client.hlen("unacked") == 0


def test_wait_after_attempt_n_is_backoff_of_min_n_minus_1_and_last():
    assert [wait_after(n, (10, 30, 60)) for n in range(1, 6)] == [10, 30, 60, 60, 60]
    assert wait_after(4, (5,)) == 5
    assert wait_after(1, ()) == 0


def test_defaults_come_from_settings_and_tasks_override_them():
    assert settings.QUEUE_TRIES >= 1
    assert tasks.flaky.policy() == (settings.QUEUE_TRIES, settings.QUEUE_BACKOFF)
    assert tasks.five_tries.policy() == (5, (0.3,))
    assert isinstance(tasks.flaky, PolicyTask)


def test_a_direct_call_runs_the_function_without_the_policy(tmp_path):
    with pytest.raises(ValueError):
        tasks.always_fails(str(tmp_path / "runs"))
    assert not FailedJob.objects.exists()


def test_failing_twice_then_succeeding_runs_three_times_with_the_configured_spacing(queue_env, tmp_path):
    log = tmp_path / "runs"
    with celery_worker(include=INCLUDE) as worker:
        result = tasks.flaky.delay(str(log), 2)
        # The policy's retries carry the attempts made so far: no counter needed to know.
        assert result.get(timeout=30) == {"runs": 3, "attempt": 3, "runs_before": 2}
        wait_for(nothing_pending, timeout=30, message="no delivery pending", worker=worker)
    started = runs(log)
    assert len(started) == 3
    gaps = [later - earlier for earlier, later in pairwise(started)]
    # Lower bounds only (a loaded machine may run a retry late); the waits' values per attempt
    # are pinned by test_wait_after_attempt_n_is_backoff_of_min_n_minus_1_and_last.
    assert gaps[0] >= 1.0 and gaps[1] >= 2.0, gaps
    assert not FailedJob.objects.exists()


def test_an_always_failing_task_leaves_exactly_one_failed_job_after_three_attempts(queue_env, tmp_path):
    log = tmp_path / "runs"
    with celery_worker(include=INCLUDE) as worker:
        result = tasks.always_fails.apply_async(args=[str(log)], kwargs={"note": "x"})
        job = wait_for(
            lambda: FailedJob.objects.filter(task_id=result.id).first(), timeout=30, message="failed job"
        )
        wait_for(nothing_pending, timeout=30, message="no delivery pending", worker=worker)
    assert len(runs(log)) == 3
    assert FailedJob.objects.count() == 1
    assert job.attempts == 3
    assert job.task == "tests.queueops.always_fails"
    assert job.queue == "celery"
    assert job.args == [str(log)] and job.kwargs == {"note": "x"}
    assert job.exception == "builtins.ValueError"
    assert job.message == "always fails x"
    assert "ValueError: always fails x" in job.traceback
    assert job.connection.startswith("redis://") and job.worker.startswith("celery@")
    assert result.state == "FAILURE"


def test_permanent_errors_fail_at_once(queue_env, tmp_path):
    first, second = tmp_path / "permanent", tmp_path / "declared"
    with celery_worker(include=INCLUDE) as worker:
        a = tasks.permanent.delay(str(first))
        b = tasks.declared_permanent.delay(str(second))
        wait_for(lambda: FailedJob.objects.count() == 2, timeout=20, message="two failed jobs")
        wait_for(nothing_pending, timeout=30, message="no delivery pending", worker=worker)
    assert len(runs(first)) == 1 and len(runs(second)) == 1
    jobs = {job.task_id: job for job in FailedJob.objects.all()}
    assert jobs[a.id].attempts == 1 and jobs[a.id].exception == "queueops.policy.PermanentError"
    assert jobs[b.id].attempts == 1 and jobs[b.id].exception == "builtins.KeyError"


def test_a_task_declares_its_own_tries_and_backoff(queue_env, tmp_path):
    log = tmp_path / "runs"
    with celery_worker(include=INCLUDE):
        result = tasks.five_tries.delay(str(log))
        job = wait_for(
            lambda: FailedJob.objects.filter(task_id=result.id).first(), timeout=30, message="failed job"
        )
    started = runs(log)
    assert len(started) == 5 and job.attempts == 5
    assert all(later - earlier >= 0.3 for earlier, later in pairwise(started))


def test_a_worker_killed_mid_task_and_restarted_completes_it_and_counts_the_lost_attempt(
    queue_env, tmp_path, monkeypatch
):
    # Redis hands an unacknowledged task out again once the visibility timeout has passed.
    monkeypatch.setenv("CELERY_VISIBILITY_TIMEOUT", "3")
    log = tmp_path / "runs"
    with celery_worker(include=INCLUDE) as worker:
        result = tasks.slow_first.delay(str(log), 120)
        wait_for(lambda: runs(log), timeout=60, message="first run started", worker=worker)
        worker.signal(signal.SIGKILL)  # the whole worker: main process and pool children
        worker.proc.wait(10)
    assert len(runs(log)) == 1 and result.state != "SUCCESS"
    time.sleep(3.5)
    with celery_worker(include=INCLUDE) as worker:
        # The worker looks for such tasks as it starts, then every ~100 s (kombu's restore
        # sweep: every 10 s, scanning on every 10th call); allow one more sweep.
        wait_for(lambda: len(runs(log)) == 2, timeout=130, message="the task delivered again", worker=worker)
        answer = result.get(timeout=30)
    assert answer["runs"] == 2
    assert answer["attempt"] == 2, "the killed delivery counts as an attempt"
    assert not FailedJob.objects.exists()


def test_a_killed_pool_process_gives_the_task_back_at_once(queue_env, tmp_path):
    log = tmp_path / "runs"
    with celery_worker(include=INCLUDE) as worker:
        result = tasks.slow_first.delay(str(log), 120)
        wait_for(lambda: runs(log), timeout=60, message="first run started", worker=worker)
        child = int(log.read_text().split()[1])
        os.kill(child, signal.SIGKILL)
        answer = result.get(timeout=30)
    assert answer["runs"] == 2 and answer["attempt"] == 2
    assert answer["pid"] != child


def test_a_lost_last_attempt_ends_as_a_failed_job(queue_env, tmp_path, monkeypatch):
    monkeypatch.setenv("QUEUE_TRIES", "1")
    log = tmp_path / "runs"
    with celery_worker(include=INCLUDE) as worker:
        result = tasks.slow_first.delay(str(log), 120)
        wait_for(lambda: runs(log), timeout=60, message="first run started", worker=worker)
        os.kill(int(log.read_text().split()[1]), signal.SIGKILL)
        job = wait_for(
            lambda: FailedJob.objects.filter(task_id=result.id).first(), timeout=30, message="failed job"
        )
    assert len(runs(log)) == 1, "no attempt is left after the lost one"
    assert job.exception == "queueops.policy.AttemptsExhausted" and job.attempts == 1


def holds_only_the_retry(task_id: str) -> bool:
    """The worker runs no delivery of `task_id` (its ack is sent) and holds one with an ETA."""
    inspect = celery_app.control.inspect(timeout=1)
    active = inspect.active() or {}
    scheduled = inspect.scheduled() or {}
    running = [task for tasks in active.values() for task in tasks if task["id"] == task_id]
    waiting = [
        entry for entries in scheduled.values() for entry in entries if entry["request"]["id"] == task_id
    ]
    return not running and bool(waiting)


def test_a_retry_handed_back_by_a_worker_shutting_down_does_not_use_up_an_attempt(
    queue_env, tmp_path, monkeypatch
):
    # Attempt 1 fails; the retry waits in the worker, which is told to stop meanwhile and gives
    # the message back (flagged redelivered). It never ran: the next worker runs it as attempt
    # 2, not 3. The stop comes only once the worker has acknowledged attempt 1 (no longer
    # active) and holds the retry (scheduled): stopped earlier, it gave attempt 1's message back
    # too. The wait is long next to that condition, so the retry cannot start before the stop.
    monkeypatch.setenv("QUEUE_BACKOFF", "10")
    log = tmp_path / "runs"
    with celery_worker(include=INCLUDE) as worker:
        result = tasks.flaky.delay(str(log), 1)
        wait_for(lambda: runs(log), timeout=60, message="attempt 1 ran", worker=worker)
        wait_until(
            lambda: holds_only_the_retry(result.id),
            timeout=60,
            what="the worker to have acknowledged attempt 1 and to hold its retry",
        )
        worker.signal(signal.SIGTERM)
        assert worker.proc.wait(30) == 0
    assert len(runs(log)) == 1
    with celery_worker(include=INCLUDE, purge=False):
        answer = result.get(timeout=60)
    assert answer == {"runs": 2, "attempt": 2, "runs_before": 1}
