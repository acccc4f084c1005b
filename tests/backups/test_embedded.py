"""The embedded profile (SQLite, no Redis): back up, drill and restore over the live database."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from backups import maintenance
from backups.models import BackupDrill

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(transaction=True)]


def test_backup_drill_and_live_restore_on_sqlite(local_backups, tmp_path, capsys):
    User.objects.create_user("kept-by-the-backup")
    call_command("backup_run", "--json")
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["database"]["vendor"] == "sqlite" and manifest["row_counts"]["auth_user"] == 1

    call_command("backup_drill", "latest", "--json")
    assert json.loads(capsys.readouterr().out)["status"] == "passed"

    copy = tmp_path / "copy.sqlite3"
    call_command("backup_restore", manifest["id"], "--target-database", str(copy), "--yes")
    assert capsys.readouterr().out.startswith(f"restored {manifest['id']} into {copy}")
    assert copy.stat().st_size > 0

    User.objects.all().delete()
    User.objects.create_user("made-after-the-backup")
    call_command("backup_restore", "latest", "--yes", "--json")
    report = json.loads(capsys.readouterr().out)
    assert [step["step"] for step in report["steps"]][:4] == [
        "verify archive",
        "maintenance on",
        "pause workers and beat",
        "restore database",
    ]
    assert all(step["ok"] for step in report["steps"])
    assert list(User.objects.values_list("username", flat=True)) == ["kept-by-the-backup"]
    assert not maintenance.active()
    # The drill recorded before the restore is gone with the old database; records come back from storage.
    assert BackupDrill.objects.count() == 0
