"""Maintenance flag, worker pause, health check, alerts and command usage errors."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from backups import maintenance, signing, workers
from backups.dumpers.mysql import MySQLDumper
from backups.health_checks import backups as backups_check
from backups.models import BackupDrill, BackupRecord
from tests.support.waiting import wait_until

# Backups as the backup user, drills and restores elsewhere as the drill user (tests/backups/conftest).
pytestmark = pytest.mark.usefixtures("backup_users")


@pytest.fixture
def maintenance_off():
    maintenance.disable()
    yield
    maintenance.disable()


@pytest.mark.django_db
def test_maintenance_answers_503_with_retry_after_except_health_and_admin(client, maintenance_off):
    normal = client.get("/api/tickets/")
    assert normal.status_code != 503
    maintenance.enable("test restore")
    with override_settings(BACKUP_MAINTENANCE_RETRY_AFTER=120):
        api = client.get("/api/tickets/")
        page = client.get("/anything")
        admin = client.get("/admin/login/")
        health = client.get("/health")
    assert api.status_code == 503 and api["Retry-After"] == "120" and "maintenance" in api.json()["detail"]
    assert page.status_code == 503 and page["Retry-After"] == "120"
    assert admin.status_code == 200
    assert not health.has_header("Retry-After")
    maintenance.disable()
    assert client.get("/api/tickets/").status_code == normal.status_code


def consumes_nothing() -> bool:
    """Workers answer, and none consumes a queue: no message can be taken (no waiting needed)."""
    from opsproject.celery import app

    answered = app.control.inspect(timeout=1).active_queues() or {}
    return bool(answered) and not any(answered.values())


def waiting_in_broker(queue: str = "celery") -> int:
    from keyvalue import store

    return store().client.llen(queue)


@pytest.mark.django_db(transaction=True)
def test_paused_workers_take_no_task_until_resumed(maintenance_off):
    from tests.opsproject.tasks import where_am_i
    from tests.support.celery_worker import celery_worker

    # A worker that starts while a restore runs pauses itself at once...
    maintenance.enable("restore in progress")
    with celery_worker(include="tests.opsproject.tasks") as worker:
        early = where_am_i.delay(1, 1)
        wait_until(consumes_nothing, 30, "the worker started in maintenance to consume no queue")
        assert early.state == "PENDING" and waiting_in_broker() == 1
        # ...and resume() (which reads the list such workers leave) lets it go on.
        maintenance.disable()
        workers.resume({})
        assert early.get(timeout=30)["sum"] == 2

        paused = workers.pause(timeout=30)
        assert list(paused.values()) == [["celery"]]
        result = where_am_i.delay(1, 2)
        assert consumes_nothing()
        assert result.state == "PENDING" and waiting_in_broker() == 1  # waiting in the broker, not taken
        workers.resume(paused)
        assert result.get(timeout=30)["sum"] == 3
        worker.wait_for_line(r"Canceling queue celery", timeout=5)


def test_progress_bar_on_a_tty_shows_bytes_and_rate():
    import io

    from backups.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    bar = Progress("restore", total=4 * 1024 * 1024, stream=screen)
    bar.update(3 * 1024 * 1024)
    bar.close()
    last = screen.getvalue().rstrip("\n").split("\r")[-1]
    assert "restore [" in last and "3.0 MiB / 4.0 MiB" in last and "/s" in last
    quiet = io.StringIO()  # not a terminal: no bar at all (commands log one line per stage)
    Progress("backup", stream=quiet).update(10)
    assert quiet.getvalue() == ""


@pytest.mark.django_db
def test_health_check_fails_warns_and_passes(local_backups):
    def by_key():
        return {r.measurement: r for r in backups_check()}

    BackupRecord.objects.all().delete()  # committed by other modules' tests
    BackupDrill.objects.all().delete()

    results = by_key()
    assert results["age"].status == "fail" and results["drillAge"].status == "warn"
    assert results["storage"].status == "pass"
    now = timezone.now()
    BackupRecord.objects.create(
        backup_id="old", status="ok", database_alias="default", vendor="mysql", archive_name="old",
        started_at=now - timedelta(hours=30), stored_size=300 * 1024 * 1024,
    )  # fmt: skip
    assert by_key()["age"].status == "fail"
    BackupRecord.objects.create(
        backup_id="new", status="ok", database_alias="default", vendor="mysql", archive_name="new",
        started_at=now - timedelta(hours=1), stored_size=300 * 1024 * 1024,
    )  # fmt: skip
    BackupDrill.objects.create(
        backup_id="new", status="passed", started_at=now, finished_at=now, rto_seconds=3, rpo_seconds=3600
    )
    with override_settings(BACKUP_MAX_STORAGE_MB=500):
        results = by_key()
    assert results["age"].status == "pass" and results["drillAge"].status == "pass"
    assert results["storedSize"].status == "warn" and results["storedSize"].observed_value == 600.0
    with override_settings(
        STORAGES={"backups": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
            "bucket_name": "nope", "endpoint_url": "http://127.0.0.1:9",
            "access_key": "k", "secret_key": "s3cr3t-x",
        }}, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    ):  # fmt: skip
        storage = by_key()["storage"]
    assert storage.status == "fail" and "s3cr3t-x" not in storage.output


@pytest.mark.django_db
@override_settings(ADMINS=[("Ops", "ops@example.com")], ALERT_WEBHOOK_URL="")
def test_failed_backup_task_mails_admins_and_the_next_success_resolves(
    local_backups, monkeypatch, django_capture_on_commit_callbacks
):
    from alerts.models import Alert
    from backups import tasks
    from backups.errors import BackupError

    def broken_dumper(alias):
        raise BackupError("mariadb-dump exited with 2: disk full")

    monkeypatch.setattr("backups.logins.backup_dumper", broken_dumper)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(BackupError, match="disk full"):
        tasks.run_backup.run("default", "test")
    alert = Alert.objects.get(key="backups.backup_failed")
    assert alert.open_key == "backups.backup_failed" and "disk full" in alert.detail
    assert len(mail.outbox) == 1 and "Backup of database 'default' failed" in mail.outbox[0].subject
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        tasks.run_backup.run("default", "test")
    alert.refresh_from_db()
    assert alert.open_key is None and len(mail.outbox) == 2


@pytest.mark.django_db
def test_bad_usage_exits_2_with_one_line(local_backups, capsys):
    cases = [
        ["backup_run", "--database", "nope"],
        ["backup_restore", "does-not-exist", "--target-database", "x"],
        ["backup_restore", "../etc/passwd", "--target-database", "x"],
        ["backup_drill", "latest"],  # nothing in storage yet
    ]
    for argv in cases:
        with pytest.raises(SystemExit) as exit_info:
            call_command(*argv)
        assert exit_info.value.code == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and ": error: " in err and "Traceback" not in err, err


@pytest.mark.django_db(transaction=True)
def test_drill_fails_when_the_restore_does_not_match_the_manifest(local_backups, capsys):
    call_command("backup_run", "--json")
    manifest = json.loads(capsys.readouterr().out)
    # Same archive, but the manifest promises one migration row more than the dump holds.
    lying = {
        **manifest,
        "id": manifest["id"] + "-lie",
        "archive": manifest["archive"].replace(".", "-lie.", 1),
    }
    shutil.copy(local_backups / manifest["archive"], local_backups / lying["archive"])
    lying["row_counts"] = {
        **manifest["row_counts"],
        "django_migrations": manifest["row_counts"]["django_migrations"] + 1,
    }
    # Signed with the key: a writer's mistake, not a forgery, which the drill's comparison catches.
    (local_backups / f"{lying['id']}.manifest.json").write_text(json.dumps(signing.sign(lying)))
    with pytest.raises(SystemExit) as exit_info:
        call_command("backup_drill", lying["id"], "--json")
    failed = json.loads(capsys.readouterr().out)
    assert exit_info.value.code == 1 and failed["status"] == "failed"
    count = manifest["row_counts"]["django_migrations"]
    assert failed["mismatches"] == [{"table": "django_migrations", "expected": count + 1, "restored": count}]
    assert BackupDrill.objects.get(backup_id=lying["id"]).status == "failed"


@pytest.mark.django_db
def test_live_restore_needs_yes_without_a_tty_and_a_key_to_restore(local_backups, capsys):
    call_command("backup_run", "--json")
    backup_id = json.loads(capsys.readouterr().out)["id"]
    with pytest.raises(SystemExit) as exit_info:
        call_command("backup_restore", backup_id)
    assert exit_info.value.code == 2 and "without --yes" in capsys.readouterr().err
    with (
        override_settings(BACKUP_AGE_IDENTITY_FILE="/nonexistent/key.txt"),
        pytest.raises(SystemExit) as exit_info,
    ):
        call_command("backup_restore", backup_id, "--target-database", "ops_bk_never", "--yes")
    assert exit_info.value.code == 2 and "BACKUP_AGE_IDENTITY_FILE" in capsys.readouterr().err


def test_binlog_position_is_read_from_the_dump_header():
    head = (
        b"-- MariaDB dump 10.19\n--\n-- Position to start replication or point-in-time recovery from\n--\n\n"
        b"-- CHANGE MASTER TO MASTER_LOG_FILE='mariadb-bin.000042', MASTER_LOG_POS=1337;\n\n"
        b"-- SET GLOBAL gtid_slave_pos='0-1-99';\n"
    )
    dumper = MySQLDumper.__new__(MySQLDumper)
    assert dumper.position_from_head(head) == {
        "file": "mariadb-bin.000042",
        "position": 1337,
        "gtid": "0-1-99",
    }
    assert dumper.position_from_head(b"-- MariaDB dump\nCREATE TABLE x (id int);\n") is None


@pytest.mark.django_db(transaction=True)
def test_live_restore_over_mariadb_runs_every_step(local_backups, capsys, maintenance_off):
    from django.contrib.auth.models import User

    User.objects.create_user("kept-by-the-backup")
    call_command("backup_run", "--json")
    backup_id = json.loads(capsys.readouterr().out)["id"]
    User.objects.all().delete()
    User.objects.create_user("made-after-the-backup")

    call_command("backup_restore", backup_id, "--yes", "--json")
    report = json.loads(capsys.readouterr().out)
    steps = [step["step"] for step in report["steps"]]
    assert steps == [
        "verify archive",
        "maintenance on",
        "pause workers and beat",
        "restore database",
        "read back row counts",
        "migrate",
        "clear caches",
        "refresh backup records",
        "resume workers",
        "maintenance off",
        "verify health",
        "smoke login",
    ]
    assert report["live"] is True and all(step["ok"] for step in report["steps"])
    assert report["smoke"] == "skipped: BACKUP_SMOKE_USERNAME is not set"
    assert list(User.objects.values_list("username", flat=True)) == ["kept-by-the-backup"]
    assert not maintenance.active()
    # The record of the backup was taken mid-run ("running"); the refresh made it agree with storage.
    assert BackupRecord.objects.get(backup_id=backup_id).status == "ok"


@pytest.mark.django_db(transaction=True)
def test_a_failed_live_restore_names_the_step_and_leaves_maintenance_on(local_backups, capsys, monkeypatch):
    from backups.errors import BackupError

    call_command("backup_run", "--json")
    backup_id = json.loads(capsys.readouterr().out)["id"]

    def migrate_breaks(*args, **kwargs):
        raise BackupError("migration 0042 failed: disk full")

    monkeypatch.setattr("backups.restore.call_command", migrate_breaks)
    try:
        with pytest.raises(SystemExit) as exit_info:
            call_command("backup_restore", backup_id, "--yes")
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert exit_info.value.code == 1
        assert f"restore of {backup_id} failed at step 'migrate': migration 0042 failed" in error
        assert error.endswith("state: maintenance is ON, workers paused, database restored")
        assert maintenance.active()  # on purpose: the operator decides when users come back
        call_command("backup_maintenance", "off", "--resume-workers")
        assert capsys.readouterr().out.strip() == "maintenance is off"
    finally:
        maintenance.disable()


@pytest.mark.django_db
@override_settings(ADMINS=[("Ops", "ops@example.com")], ALERT_WEBHOOK_URL="", BACKUP_MAX_STORAGE_MB=1)
def test_state_monitor_alerts_on_too_old_and_too_large_then_resolves(
    local_backups, django_capture_on_commit_callbacks
):
    from alerts.models import Alert
    from backups import tasks

    BackupRecord.objects.all().delete()
    now = timezone.now()
    BackupRecord.objects.create(
        backup_id="stale", status="ok", database_alias="default", vendor="mysql", archive_name="stale",
        started_at=now - timedelta(days=3), stored_size=5 * 1024 * 1024,
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.check.run() == {"age": "fail", "size": "warn"}
    assert set(Alert.objects.filter(open_key__isnull=False).values_list("key", flat=True)) >= {
        "backups.too_old",
        "backups.too_large",
    }
    assert len(mail.outbox) == 2
    BackupRecord.objects.filter(backup_id="stale").update(started_at=now, stored_size=1024)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.check.run() == {"age": "pass", "size": "pass"}
    assert not Alert.objects.filter(key__startswith="backups.", open_key__isnull=False).exists()
