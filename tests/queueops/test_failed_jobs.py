"""Failed-job commands (queue_failed, queue_retry, queue_forget, queue_flush, queue_prune_failed)."""

import json
import os
import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone

from queueops.models import FailedJob
from tests.queueops import tasks
from tests.queueops.conftest import INCLUDE, manage, runs, wait_for
from tests.support.celery_worker import celery_worker, child_env
from tests.support.processes import PYTHON, REPO

pytestmark = pytest.mark.django_db(transaction=True)


def _job(n: int, **fields) -> FailedJob:
    defaults = {
        "task_id": f"task-{n}",
        "connection": "redis://127.0.0.1:6379/5",
        "queue": "celery",
        "task": "tests.queueops.always_fails",
        "args": [f"/tmp/never-{n}"],
        "exception": "builtins.ValueError",
        "message": f"boom {n}",
        "traceback": f"Traceback ...\nValueError: boom {n}",
        "attempts": 3,
    }
    return FailedJob.objects.create(**{**defaults, **fields})


def test_queue_retry_runs_the_job_again_and_removes_the_row(queue_env, tmp_path):
    log, flag = tmp_path / "runs", tmp_path / "flag"
    with celery_worker(include=INCLUDE):
        failed = tasks.fails_unless.delay(str(log), str(flag))
        job = wait_for(
            lambda: FailedJob.objects.filter(task_id=failed.id).first(), timeout=30, message="failed job"
        )
        assert len(runs(log)) == 3
        flag.write_text("fixed")
        ran = manage("queue_retry", str(job.pk))
        assert ran.returncode == 0, ran.stderr
        assert f"Retried failed job #{job.pk} (tests.queueops.fails_unless)" in ran.stdout
        assert not FailedJob.objects.filter(pk=job.pk).exists()
        wait_for(lambda: len(runs(log)) == 4, timeout=20, message="the retried run")
        new_id = ran.stdout.strip().rsplit(" ", 1)[1].rstrip(".")
        from celery.result import AsyncResult

        assert AsyncResult(new_id).get(timeout=20) == "ok"
    assert new_id != failed.id
    assert not FailedJob.objects.exists()


def test_queue_retry_keeps_the_row_when_the_broker_refuses(queue_env):
    job = _job(1)
    ran = manage("queue_retry", job.task_id, env={"REDIS_URL": "redis://127.0.0.1:1/0"})
    assert ran.returncode == 1
    assert f"Could not retry failed job #{job.pk}" in ran.stderr
    assert FailedJob.objects.filter(pk=job.pk).exists()


def test_queue_retry_all_with_filters_and_unknown_ids(queue_env):
    a = _job(1, queue="qo_idle")
    _job(2, queue="qo_idle", task="tests.queueops.plain", args=[7])
    c = _job(3)
    ran = manage("queue_retry", "all", "--queue", "qo_idle", "--task", "tests.queueops.plain")
    assert ran.returncode == 0, ran.stderr
    assert set(FailedJob.objects.values_list("pk", flat=True)) == {a.pk, c.pk}
    from queueops.broker import queue_stats

    assert queue_stats(["qo_idle"])[0].size == 1, "sent to its original queue"
    ran = manage("queue_retry", str(c.pk), "999999")
    assert ran.returncode == 1
    assert "No failed job matches 999999." in ran.stderr
    assert not FailedJob.objects.filter(pk=c.pk).exists()


def test_queue_retry_takes_ids_ranges_and_all_mixed(queue_env):
    jobs = [_job(n, queue="qo_idle", task="tests.queueops.plain", args=[n]) for n in range(1, 8)]
    pks = [job.pk for job in jobs]
    jobs[2].delete()  # a gap inside the range: skipped, not an error
    ran = manage("queue_retry", f"{pks[1]}-{pks[3]}", jobs[5].task_id, str(pks[1]), "--json")
    assert ran.returncode == 0, ran.stderr
    retried = [row["job_id"] for row in json.loads(ran.stdout)["retried"]]
    assert retried == [pks[1], pks[3], pks[5]]  # each once, whatever named it twice
    assert set(FailedJob.objects.values_list("pk", flat=True)) == {pks[0], pks[4], pks[6]}
    # `all` mixes too: with --queue it is that queue's jobs plus the ones named.
    other = _job(20, queue="qo_other")
    ran = manage("queue_retry", "all", str(other.pk), "--queue", "qo_idle")
    assert ran.returncode == 0, ran.stderr
    assert not FailedJob.objects.exists()
    # A range with no row at all is reported like an unknown id.
    ran = manage("queue_retry", "900000-900009")
    assert ran.returncode == 1 and "No failed job matches 900000-900009." in ran.stderr


@pytest.mark.parametrize("bad", ["9-5", "5-", "-"])
def test_queue_retry_refuses_a_malformed_range_before_sending_anything(queue_env, bad):
    job = _job(1)
    ran = manage("queue_retry", str(job.pk), bad)
    assert ran.returncode == 2, ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1 and "Traceback" not in ran.stderr
    assert FailedJob.objects.filter(pk=job.pk).exists()


@pytest.mark.parametrize("command", ["queue_retry", "queue_forget"])
def test_an_id_of_non_ascii_digits_matches_no_job_without_a_traceback(queue_env, command):
    # "²".isdigit() is True but int("²") raises: such an id was a traceback, not "no match".
    job = _job(2)
    ran = manage(command, "\u00b2")
    assert ran.returncode == 1 and "Traceback" not in ran.stderr, ran.stderr
    assert "No failed job matches \u00b2." in ran.stderr
    assert FailedJob.objects.filter(pk=job.pk).exists()


def test_queue_failed_lists_filters_and_prints_json(queue_env):
    assert manage("queue_failed").stdout.strip() == "No failed jobs."
    _job(1)
    _job(2, queue="mail", task="mailops.send")
    listing = manage("queue_failed")
    assert listing.returncode == 0
    assert "ValueError: boom 1" in listing.stdout and "mailops.send" in listing.stdout
    only_mail = manage("queue_failed", "--queue", "mail", "--json")
    rows = json.loads(only_mail.stdout)
    assert [row["task"] for row in rows] == ["mailops.send"]
    assert rows[0]["traceback"].endswith("boom 2") and rows[0]["args"] == ["/tmp/never-2"]
    assert json.loads(manage("queue_failed", "--task", "nope", "--json").stdout) == []


def test_queue_forget_flush_and_prune(queue_env):
    old = _job(1, failed_at=timezone.now() - timedelta(hours=30))
    recent = _job(2, failed_at=timezone.now() - timedelta(hours=2))
    newest = _job(3)
    assert manage("queue_forget", "424242").returncode == 1
    forgot = manage("queue_forget", newest.task_id)
    assert forgot.returncode == 0 and not FailedJob.objects.filter(pk=newest.pk).exists()
    pruned = manage("queue_prune_failed", "--hours", "24")
    assert pruned.returncode == 0 and "Pruned 1 failed job older than 24 h" in pruned.stdout
    assert list(FailedJob.objects.values_list("pk", flat=True)) == [recent.pk]
    assert manage("queue_flush", "--hours", "3").stdout.startswith("Deleted 0 failed jobs")
    assert FailedJob.objects.filter(pk=recent.pk).exists()
    _job(4)
    assert manage("queue_flush").stdout.startswith("Deleted 2 failed jobs")
    assert not FailedJob.objects.exists()
    del old


def test_a_failed_job_is_recorded_once_per_task_id(queue_env):
    from types import SimpleNamespace

    from queueops.failed import record_failure

    request = SimpleNamespace(
        id="same-id",
        delivery_info={"exchange": "", "routing_key": "celery", "priority": 0},
        args=[1],
        kwargs={},
        hostname="w@h",
    )
    first = record_failure(tasks.always_fails, request, ValueError("a"), attempts=3, traceback="tb")
    again = record_failure(tasks.always_fails, request, ValueError("b"), attempts=4, traceback="tb")
    assert first.pk == again.pk and FailedJob.objects.count() == 1
    assert FailedJob.objects.get().message == "a"


def test_queue_failed_json_is_written_batch_by_batch_as_one_json_array(queue_env, monkeypatch):
    """A hundred thousand failed jobs are never one list in memory: rows are read BATCH at a
    time (here 2) and written one by one, in the layout json.dumps(rows, indent=2) would give."""
    import io

    from django.core.management import call_command

    from queueops.management import failed_jobs

    monkeypatch.setattr(failed_jobs, "BATCH", 2)
    moment = timezone.now()
    for n in range(5):  # two pairs fail at the same moment: the batches' seams must not drop them
        _job(n, failed_at=moment - timedelta(minutes=n // 2))
    out = io.StringIO()
    call_command("queue_failed", "--json", stdout=out)
    rows = json.loads(out.getvalue())
    assert out.getvalue() == json.dumps(rows, indent=2) + "\n"
    expected = FailedJob.objects.order_by("-failed_at", "-pk").values_list("pk", flat=True)
    assert [row["id"] for row in rows] == list(expected)


def test_retrying_in_batches_reaches_every_selected_job_once_while_rows_go(queue_env, monkeypatch):
    from queueops.management import failed_jobs

    monkeypatch.setattr(failed_jobs, "BATCH", 2)
    pks = [_job(n).pk for n in range(5)]
    seen = []
    for job in failed_jobs.in_batches(failed_jobs.select(["all"]).jobs):
        seen.append(job.pk)
        job.delete()  # as a retry does
    assert seen == sorted(pks)


def test_a_retried_job_failing_again_during_the_walk_is_not_retried_again(queue_env, monkeypatch):
    """Rows added after the walk began (a retried job's new failure has a higher number) are left
    for the next run: otherwise `queue_retry all` chases its own re-failures."""
    from queueops.management import failed_jobs

    monkeypatch.setattr(failed_jobs, "BATCH", 2)
    pks = [_job(n).pk for n in range(5)]
    seen = []
    for job in failed_jobs.in_batches(failed_jobs.select(["all"]).jobs):
        seen.append(job.pk)
        job.delete()
        if seen[-1] in pks:
            _job(100 + len(seen))  # the retry failed again at once: a new row
    assert seen == pks


def _nested(depth: int):
    value = []
    for _ in range(depth):
        value = [value]
    return value


def test_a_job_whose_arguments_the_database_refuses_is_recorded_and_never_replayed(queue_env, tmp_path):
    """NaN and infinities (not JSON), a lone surrogate and 40 levels of nesting (JSON that
    MariaDB's JSON_VALID check refuses): the failure is recorded with the arguments' repr,
    marked, and queue_retry refuses it in one line instead of sending the repr."""
    log = tmp_path / "runs"
    with celery_worker(include=INCLUDE):
        sent = [
            tasks.permanent_with.delay(str(log), float("nan"), when=float("inf")),
            tasks.permanent_with.delay(str(log), "lone \ud800 surrogate"),
            tasks.permanent_with.delay(str(log), deep=_nested(40)),
        ]
        wait_for(lambda: len(runs(log)) == 3, timeout=30, message="the three runs")
        jobs = [
            wait_for(
                lambda r=result: FailedJob.objects.filter(task_id=r.id).first(), timeout=30, message=result.id
            )
            for result in sent
        ]
    nan, surrogate, deep = jobs
    assert "nan" in nan.args["unstorable_repr"] and "inf" in nan.kwargs["unstorable_repr"]
    assert "\\ud800" in surrogate.args["unstorable_repr"]
    assert "deep" in deep.kwargs["unstorable_repr"]
    assert not any(job.replayable for job in jobs)
    ran = manage("queue_retry", *(str(job.pk) for job in jobs))
    assert ran.returncode == 1
    refusals = ran.stderr.strip().splitlines()
    assert len(refusals) == 3, ran.stderr
    for job, line in zip(sorted(jobs, key=lambda job: job.pk), sorted(refusals), strict=True):
        assert line.startswith(
            f"Could not retry failed job #{job.pk} (tests.queueops.permanent_with): NotReplayable"
        )
    assert FailedJob.objects.filter(pk__in=[job.pk for job in jobs]).count() == 3
    assert len(runs(log)) == 3, "nothing was sent again"


def test_queue_failed_json_into_a_reader_that_stops_early_ends_quietly(queue_env):
    """`queue_failed --json | head -1`: far more output than a pipe holds, so the command is
    still writing when head has its line and exits. A closed stdout ends it without a traceback."""
    FailedJob.objects.bulk_create(
        FailedJob(
            task_id=f"task-{n}",
            connection="redis://127.0.0.1:6379/5",
            queue="celery",
            task="tests.queueops.always_fails",
            exception="builtins.ValueError",
            traceback="Traceback ...\n" + "  a frame\n" * 200,
            attempts=3,
        )
        for n in range(400)
    )
    command = subprocess.Popen(
        [PYTHON, "manage.py", "queue_failed", "--json"],
        cwd=REPO,
        env={**os.environ, **child_env()},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    head = subprocess.run(["head", "-1"], stdin=command.stdout, capture_output=True, timeout=120)
    command.stdout.close()  # head alone holds the reading end: it is closed once head exits
    stderr = command.stderr.read().decode()
    command.wait(timeout=120)
    assert head.stdout == b"[\n"
    assert stderr == "", stderr
    assert command.returncode == 1  # as Python's documented pattern for a closed stdout
