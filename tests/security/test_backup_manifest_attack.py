"""Someone who can write to the backup storage, but lacks BACKUP_MANIFEST_KEY, cannot get a planted
archive restored or drilled: refused in one line before the target database is touched.

The planted backups are real ones: age recipients are public keys, so an attacker can make an
archive our identity decrypts; here it is made by this project's own writer under another key.
"""

from __future__ import annotations

import json
import secrets

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import override_settings

from backups.models import BackupDrill
from tests.backups.conftest import backup_settings

pytestmark = pytest.mark.django_db(transaction=True)

OUR_KEY = "our-manifest-key-" + secrets.token_urlsafe(24)
ATTACKER_KEY = "attackers-own-key-" + secrets.token_urlsafe(24)


@pytest.fixture
def target():
    """A database holding data the restore must not touch when it refuses."""
    name = f"ops_sec_t_{secrets.token_hex(4)}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}`")
        cursor.execute(f"CREATE TABLE `{name}`.precious (id INT PRIMARY KEY)")
        cursor.execute(f"INSERT INTO `{name}`.precious VALUES (1), (2), (3)")
    yield name
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


def _tables(database: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [database])
        return sorted(row[0] for row in cursor.fetchall())


def _scratch_databases() -> int:
    with connection.cursor() as cursor:
        # This test database's scratch databases only: other runs share the server.
        prefix = connection.settings_dict["NAME"].replace("_", "\\_") + "\\_drill\\_%"
        cursor.execute("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE %s", [prefix])
        return cursor.fetchone()[0]


def _backup(key: str, capsys) -> dict:
    with override_settings(BACKUP_MANIFEST_KEY=key):
        call_command("backup_run", "--json")
    return json.loads(capsys.readouterr().out)


def _run(capsys, *argv: str) -> tuple[int, list[str]]:
    """Run a command as our installation (our key); its exit code and stderr lines."""
    with override_settings(BACKUP_MANIFEST_KEY=OUR_KEY):
        try:
            call_command(*argv)
            code = 0
        except SystemExit as exit_info:
            code = exit_info.code
    return code, capsys.readouterr().err.strip().splitlines()


def _assert_refused_untouched(code, lines, target, expected_code, words):
    assert code == expected_code, lines
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    assert all(word in lines[0] for word in words), lines[0]
    assert _tables(target) == ["precious"]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM `{target}`.precious")
        assert cursor.fetchone()[0] == 3


def _plant_and_refuse(capsys, target):
    """Plant a backup made under another key; restore and drill refuse it, target untouched."""
    planted = _backup(ATTACKER_KEY, capsys)
    code, lines = _run(capsys, "backup_restore", planted["id"], "--target-database", target, "--yes")
    _assert_refused_untouched(code, lines, target, 1, ["failed authentication", planted["id"]])
    # Not even with the flag meant for old unsigned backups.
    flagged = ("backup_restore", planted["id"], "--target-database", target, "--yes", "--allow-unsigned")
    code, lines = _run(capsys, *flagged)
    _assert_refused_untouched(code, lines, target, 1, ["failed authentication"])
    code, lines = _run(capsys, "backup_drill", planted["id"])
    _assert_refused_untouched(code, lines, target, 1, ["failed authentication"])
    assert _scratch_databases() == 0 and not BackupDrill.objects.exists()
    return planted


def test_a_backup_planted_in_the_folder_without_the_key_is_refused(tmp_path, keys, target, capsys):
    with backup_settings(tmp_path, keys):
        ours = _backup(OUR_KEY, capsys)
        planted = _plant_and_refuse(capsys, target)
        # `latest` is the planted one by time, but its manifest does not verify: ours is drilled.
        code, lines = _run(capsys, "backup_drill", "latest", "--json")
        assert code == 0, lines
        assert BackupDrill.objects.get().backup_id == ours["id"] != planted["id"]


def test_a_backup_planted_in_a_real_s3_bucket_without_the_key_is_refused(
    s3_server, tmp_path, keys, target, capsys
):
    storage = s3_server.storage_config(f"sec{tmp_path.name[-8:]}")
    with backup_settings(tmp_path, keys, storage):
        _plant_and_refuse(capsys, target)


def test_a_signed_manifest_edited_or_moved_is_refused(tmp_path, keys, target, capsys):
    with backup_settings(tmp_path, keys):
        ours = _backup(OUR_KEY, capsys)
        store = tmp_path / "store"
        signed = json.loads((store / f"{ours['id']}.manifest.json").read_text())
        # Pointed at another file: the MAC no longer matches.
        (store / "20261201T000000Z-default-aaaaaa.manifest.json").write_text(
            json.dumps({**signed, "id": "20261201T000000Z-default-aaaaaa"})
        )
        code, lines = _run(
            capsys, "backup_restore", "20261201T000000Z-default-aaaaaa", "--target-database", target, "--yes"
        )
        _assert_refused_untouched(code, lines, target, 1, ["failed authentication"])
        # The genuine manifest copied, unchanged, under another backup's name.
        (store / "20261201T000000Z-default-bbbbbb.manifest.json").write_text(json.dumps(signed))
        code, lines = _run(
            capsys, "backup_restore", "20261201T000000Z-default-bbbbbb", "--target-database", target, "--yes"
        )
        _assert_refused_untouched(code, lines, target, 1, ["not stored under its own id"])


def test_an_unsigned_old_backup_restores_only_with_the_flag_and_is_never_drilled(
    tmp_path, keys, target, capsys
):
    with backup_settings(tmp_path, keys):
        old = _backup(OUR_KEY, capsys)
        path = tmp_path / "store" / f"{old['id']}.manifest.json"
        unsigned = json.loads(path.read_text())
        del unsigned["mac"]  # as written before manifests were signed
        path.write_text(json.dumps(unsigned))

        code, lines = _run(capsys, "backup_restore", old["id"], "--target-database", target, "--yes")
        _assert_refused_untouched(code, lines, target, 2, ["unsigned", "--allow-unsigned"])
        code, lines = _run(capsys, "backup_drill", old["id"])
        _assert_refused_untouched(code, lines, target, 1, ["unsigned"])
        assert _scratch_databases() == 0

        code, lines = _run(
            capsys, "backup_restore", old["id"], "--target-database", target, "--yes", "--allow-unsigned"
        )
        assert code == 0, lines
        assert "django_migrations" in _tables(target) and "precious" not in _tables(target)


def test_a_planted_unsigned_manifest_is_never_recorded_as_a_good_backup(tmp_path, keys, capsys):
    """Else backup_list --refresh would count it as a recent good backup and mask our failures."""
    from backups.models import BackupRecord

    with backup_settings(tmp_path, keys):
        planted = _backup(OUR_KEY, capsys)
        path = tmp_path / "store" / f"{planted['id']}.manifest.json"
        unsigned = json.loads(path.read_text())
        del unsigned["mac"]
        path.write_text(json.dumps(unsigned))
        BackupRecord.objects.all().delete()  # a fresh installation, or records rebuilt from storage

        code, _lines = _run(capsys, "backup_list", "--refresh", "--json")
        assert code == 0
        assert not BackupRecord.objects.filter(backup_id=planted["id"]).exists()
