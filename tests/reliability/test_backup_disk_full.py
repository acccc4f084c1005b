"""Disk full under the backups: a clear failure, nothing partial left, an alert, older backups intact.

The local backup storage (STORAGES["backups"], a folder) is a small tmpfs mounted for the test, so
the disk really fills: ENOSPC from the kernel, not a mock. One backup of the test database fits;
then a table of incompressible random bytes makes the next one too big for what is left. It runs
twice, as an operator's `manage.py backup_run` (a child process: exit code and stderr as the
operator sees them) and as the scheduler's `backups.run_backup` task (which raises the alert).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from alerts.models import Alert
from backups import catalog, keys, notify, restore, tasks
from backups.errors import BackupError
from backups.storage import BackupStorage
from tests.backups.conftest import AgeKeys, backup_settings, make_keys
from tests.support.celery_worker import child_env
from tests.support.processes import PYTHON, REPO

pytestmark = pytest.mark.django_db(transaction=True)

DISK_SIZE = 1024 * 1024  # room for one backup of the test database, not for the filler below
FILLER_KIB = 3 * 1024  # random bytes: they do not compress, and the dump writes them as hex
NO_SPACE = "no space left"


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 1 MiB tmpfs, unmounted afterwards whatever happens."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI and the development box run the tests as root)")
    mountpoint = tmp_path / "small-disk"
    mountpoint.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE},mode=0700", "tmpfs", str(mountpoint)], check=True
    )
    try:
        yield mountpoint
    finally:
        done = subprocess.run(["umount", str(mountpoint)], capture_output=True, text=True)
        if done.returncode != 0:  # something still holds a file open: detach it all the same
            subprocess.run(["umount", "--lazy", str(mountpoint)], check=True)


@pytest.fixture
def filler_table():
    """Creates the table that makes the database too big for the disk; dropped afterwards."""

    def fill() -> None:
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE disk_filler (id INT PRIMARY KEY, noise VARBINARY(1024) NOT NULL)")
            cursor.execute(
                f"INSERT INTO disk_filler SELECT seq, RANDOM_BYTES(1024) FROM seq_1_to_{FILLER_KIB}"
            )

    yield fill
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS disk_filler")


def local_storage(folder: Path) -> dict:
    return {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(folder)}}


def operator_backup(disk: Path, age: AgeKeys) -> subprocess.CompletedProcess:
    """`manage.py backup_run` as an operator runs it, with the small disk as BACKUP_DIR."""
    env = {**os.environ, **child_env(BACKUP_DIR=str(disk), BACKUP_AGE_RECIPIENTS=age.recipient)}
    argv = [PYTHON, "manage.py", "backup_run", "--note", "operator, disk full"]
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_a_backup_that_does_not_fit_fails_clearly_leaves_nothing_and_alerts(
    small_disk, filler_table, tmp_path
):
    age = make_keys(tmp_path)
    with backup_settings(tmp_path, age, storage=local_storage(small_disk)):
        call_command("backup_run", "--note", "fits")
        first = catalog.resolve("latest")
        kept = sorted(os.listdir(small_disk))
        assert kept == sorted([first.archive, f"{first.id}.manifest.json"])

        filler_table()
        done = operator_backup(small_disk, age)

        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr, done.stderr
        message = done.stderr.strip().splitlines()[-1]
        assert message.startswith("backup_run: error: backup ") and NO_SPACE in message.lower(), message
        assert str(small_disk) in message, "the message names the disk that is full"
        assert sorted(os.listdir(small_disk)) == kept, "no partial archive or temp file is left"

        with pytest.raises(BackupError) as failed:
            tasks.run_backup.run("default", "scheduled, disk full")
        assert NO_SPACE in str(failed.value).lower()
        assert sorted(os.listdir(small_disk)) == kept
        alert = Alert.objects.get(open_key=notify.BACKUP_FAILED)
        assert NO_SPACE in alert.detail.lower() and alert.source == "backups"

        # The backup made before the disk filled is whole: it verifies end to end.
        assert catalog.resolve("latest").id == first.id
        restore.verify(first, BackupStorage(), keys.identities())
