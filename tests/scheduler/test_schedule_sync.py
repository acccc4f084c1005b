"""schedule_sync: code is the source of truth for which jobs exist, operators for on/off."""

import json

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask, PeriodicTasks

from scheduler.models import ManagedJob
from scheduler.periodic import PeriodicJob, cron, every, registered_jobs
from scheduler.sync import sync_jobs

pytestmark = pytest.mark.django_db

SLA = PeriodicJob("t.sla", task="helpdesk.check_sla", schedule=every(60), critical=True)
NIGHTLY = PeriodicJob(
    "t.nightly", task="backups.run_backup", schedule=cron("0 2 * * *"), kwargs={"note": "n"}
)


def test_creates_jobs_with_their_schedules():
    report = sync_jobs([SLA, NIGHTLY])
    assert sorted(report.created) == ["t.nightly", "t.sla"]
    sla = PeriodicTask.objects.get(name="t.sla")
    assert (sla.interval.every, sla.interval.period, sla.crontab) == (60, "seconds", None)
    nightly = PeriodicTask.objects.get(name="t.nightly")
    assert (nightly.crontab.minute, nightly.crontab.hour, str(nightly.crontab.timezone)) == ("0", "2", "UTC")
    assert json.loads(nightly.kwargs) == {"note": "n"}
    assert ManagedJob.objects.get(name="t.sla").critical is True
    assert ManagedJob.objects.get(name="t.nightly").period_seconds == 24 * 3600


def test_second_run_changes_nothing():
    sync_jobs([SLA, NIGHTLY])
    before = PeriodicTasks.last_change()
    rows = list(PeriodicTask.objects.order_by("name").values())
    managed = list(ManagedJob.objects.order_by("name").values())
    report = sync_jobs([SLA, NIGHTLY])
    assert not report.changed
    assert sorted(report.unchanged) == ["t.nightly", "t.sla"]
    assert PeriodicTasks.last_change() == before, "beat would be told the schedule changed"
    assert list(PeriodicTask.objects.order_by("name").values()) == rows
    assert list(ManagedJob.objects.order_by("name").values()) == managed


def test_a_job_removed_from_code_is_disabled_not_deleted_and_comes_back_when_declared_again():
    sync_jobs([SLA, NIGHTLY])
    report = sync_jobs([SLA])
    assert report.disabled == ["t.nightly"]
    nightly = PeriodicTask.objects.get(name="t.nightly")
    assert nightly.enabled is False
    assert ManagedJob.objects.get(name="t.nightly").in_code is False
    assert not sync_jobs([SLA]).changed, "disabling happens once"

    report = sync_jobs([SLA, NIGHTLY])
    assert report.updated == ["t.nightly"]
    assert PeriodicTask.objects.get(name="t.nightly").enabled is True


def test_an_operators_choice_survives_a_sync():
    sync_jobs([SLA, NIGHTLY])
    PeriodicTask.objects.filter(name="t.sla").update(enabled=False)
    report = sync_jobs([SLA, NIGHTLY])
    assert not report.changed
    assert PeriodicTask.objects.get(name="t.sla").enabled is False


def test_a_changed_declaration_updates_the_row():
    sync_jobs([SLA])
    faster = PeriodicJob("t.sla", task="helpdesk.check_sla", schedule=cron("*/5 * * * *"), critical=False)
    report = sync_jobs([faster])
    assert report.updated == ["t.sla"]
    row = PeriodicTask.objects.get(name="t.sla")
    assert row.interval is None and row.crontab.minute == "*/5"
    assert ManagedJob.objects.get(name="t.sla").critical is False


def test_operator_made_tasks_are_left_alone():
    sync_jobs([SLA])
    from django_celery_beat.models import IntervalSchedule

    hourly = IntervalSchedule.objects.create(every=3600, period="seconds")
    PeriodicTask.objects.create(name="operator.adhoc", task="x", interval=hourly)
    sync_jobs([])
    assert PeriodicTask.objects.get(name="operator.adhoc").enabled is True


def test_dry_run_writes_nothing():
    report = sync_jobs([SLA, NIGHTLY], dry_run=True)
    assert sorted(report.created) == ["t.nightly", "t.sla"]
    assert not PeriodicTask.objects.filter(name__startswith="t.").exists()
    assert not ManagedJob.objects.exists()


def test_the_command_syncs_the_registry_and_is_idempotent(capsys):
    declared = {job.name for job in registered_jobs()}
    assert {"helpdesk.check_sla", "queueops.check_backlog", "queueops.cleanup"} <= declared
    call_command("schedule_sync")
    assert set(PeriodicTask.objects.values_list("name", flat=True)) >= declared
    capsys.readouterr()
    call_command("schedule_sync", "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["created"] == report["updated"] == report["disabled"] == []
    assert sorted(report["unchanged"]) == sorted(declared)


def test_duplicate_declarations_are_refused(monkeypatch):
    from queueops import jobs

    monkeypatch.setattr(jobs, "JOBS", [*jobs.JOBS, jobs.JOBS[0]])
    with pytest.raises(ValueError, match="declared twice"):
        registered_jobs()
