"""Late-job detection, schedule_list, schedule_beat_alive and the scheduler health check."""

import json
import os
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from keyvalue import store
from scheduler.health_checks import scheduler
from scheduler.leadership import LEADER_KEY, MEMBERS_KEY, coordinator, heartbeat_state
from scheduler.models import JobRun, ManagedJob
from scheduler.periodic import PeriodicJob, every
from scheduler.runlog import job_statuses
from scheduler.sync import sync_jobs
from tests.support.command_lines import run_command_line

pytestmark = pytest.mark.django_db

MINUTELY = PeriodicJob("t.minutely", task="t.minutely", schedule=every(60), grace_seconds=30)
CRITICAL = PeriodicJob("t.critical", task="t.critical", schedule=every(60), grace_seconds=30, critical=True)


def _ran(job, ago_seconds, outcome=JobRun.SUCCESS, task_id=None):
    finished = timezone.now() - timedelta(seconds=ago_seconds)
    JobRun.objects.create(
        job=job,
        task_id=task_id or f"{job}-{ago_seconds}",
        started_at=finished - timedelta(seconds=1),
        finished_at=finished,
        outcome=outcome,
    )


def _declared_long_ago(*names):
    ManagedJob.objects.filter(name__in=names).update(created_at=timezone.now() - timedelta(hours=2))


def _by_name():
    return {s.name: s for s in job_statuses()}


def test_a_job_is_late_only_past_its_interval_plus_grace():
    sync_jobs([MINUTELY])
    _declared_long_ago("t.minutely")
    _ran("t.minutely", 80)
    assert _by_name()["t.minutely"].late is False
    JobRun.objects.all().delete()
    _ran("t.minutely", 100)
    status = _by_name()["t.minutely"]
    assert status.late is True and 5 <= status.late_by_seconds <= 15


def test_failures_do_not_count_as_runs():
    sync_jobs([MINUTELY])
    _declared_long_ago("t.minutely")
    _ran("t.minutely", 200)
    _ran("t.minutely", 5, outcome=JobRun.FAILURE)
    status = _by_name()["t.minutely"]
    assert status.late is True
    assert status.last_outcome == JobRun.FAILURE


def test_a_new_job_gets_its_first_interval_and_a_disabled_job_is_never_late():
    sync_jobs([MINUTELY, CRITICAL])
    assert _by_name()["t.minutely"].late is False
    _declared_long_ago("t.minutely", "t.critical")
    from django_celery_beat.models import PeriodicTask

    PeriodicTask.objects.filter(name="t.minutely").update(enabled=False)
    statuses = _by_name()
    assert statuses["t.minutely"].late is False
    assert statuses["t.critical"].late is True


def _publish(name, role, age=0.0):
    state = heartbeat_state(role, pid=1)
    if age:
        state["at"] = (timezone.now() - timedelta(seconds=age)).isoformat()
    coordinator().publish(name, state)


@pytest.fixture
def clean_board():
    store().delete(LEADER_KEY, MEMBERS_KEY)
    yield coordinator()
    store().delete(LEADER_KEY, MEMBERS_KEY)


def _results():
    return {r.measurement: r for r in scheduler()}


def test_health_passes_with_a_fresh_leader_and_a_standby(clean_board):
    sync_jobs([MINUTELY])
    clean_board.hold("beat-a", 30)
    _publish("beat-a", "leader")
    _publish("beat-b", "standby")
    results = _results()
    assert results["leader"].status == "pass" and results["leader"].component_id == "beat-a"
    assert results["standbys"].status == "pass" and results["standbys"].observed_value == 1
    assert results["lateJobs"].status == "pass"


def test_health_fails_without_a_leader_and_warns_without_a_standby(clean_board):
    _publish("beat-b", "standby", age=120)
    results = _results()
    assert results["leader"].status == "fail"
    assert results["standbys"].status == "warn"
    clean_board.hold("beat-a", 30)
    _publish("beat-a", "leader", age=120)
    assert _results()["leader"].status == "fail", "a stale leader heartbeat is no leader"


def test_health_warns_on_a_late_job_and_fails_on_a_late_critical_one(clean_board):
    clean_board.hold("beat-a", 30)
    _publish("beat-a", "leader")
    sync_jobs([MINUTELY, CRITICAL])
    _declared_long_ago("t.minutely")
    assert _results()["lateJobs"].status == "warn"
    _declared_long_ago("t.critical")
    late = _results()["lateJobs"]
    assert late.status == "fail" and late.observed_value == 2
    assert "t.critical late by" in late.output


def test_schedule_list_shows_lateness_and_exits_1_for_a_late_critical_job(clean_board, capsys):
    sync_jobs([MINUTELY, CRITICAL])
    _ran("t.minutely", 10)
    call_command("schedule_list", "--json")
    payload = json.loads(capsys.readouterr().out)
    jobs = {j["name"]: j for j in payload["jobs"]}
    assert jobs["t.minutely"]["last_outcome"] == "success" and jobs["t.minutely"]["late"] is False
    assert jobs["t.minutely"]["next_due_at"] is not None
    _declared_long_ago("t.critical")
    with pytest.raises(SystemExit) as exit_info:
        call_command("schedule_list")
    assert exit_info.value.code == 1
    assert "LATE" in capsys.readouterr().out


def _alive(*args):
    return run_command_line(["schedule_beat_alive", *args], env=os.environ, timeout=30)


def test_beat_alive_command(clean_board):
    _publish("beat-a", "standby")
    _publish("beat-old", "leader", age=300)
    done = _alive("--name", "beat-a")
    assert done.returncode == 0, done.stderr
    assert "beat-a: alive (standby" in done.stdout
    stale = _alive("--name", "beat-old")
    assert stale.returncode == 1 and "last heartbeat" in stale.stderr
    nobody = _alive("--name", "nobody")
    assert nobody.returncode == 1 and "no heartbeat" in nobody.stderr
    bad = _alive("--max-age", "-1")
    assert bad.returncode == 2 and "--max-age" in bad.stderr
    assert _alive("--name", "beat-old", "--max-age", "600").returncode == 0
