"""Backups of a real MariaDB database: round trip, stock-tool restore, damaged archives, drills.

One backup of a few hundred thousand generated rows (binary and unicode values, NULLs, a stored
function) is made once for the module and restored in several ways. Backups run as the backup
user, restores and drills as the drill user of compose/mariadb-init/01-users.sh, never as root.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import override_settings

from backups import signing
from backups.manifest import Manifest
from backups.models import BackupDrill, BackupRecord
from tests.backups.conftest import as_backup_users, backup_settings, make_keys
from tests.support import audit_rows

ROWS = 300_000
EDGE_TEXT = 'it\'s \\ "quoted"\n\t— 漢字 🚀 \x00 end'
EDGE_BYTES = bytes(range(256))


def _checksum(database: str, table: str = "bk_sample") -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"CHECKSUM TABLE `{database}`.`{table}` EXTENDED")
        return cursor.fetchone()[1]


def _exists(database: str, table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
            [database, table],
        )
        return cursor.fetchone()[0] == 1


@pytest.fixture(scope="module")
def sample(django_db_setup, django_db_blocker, tmp_path_factory, db_users):
    """(manifest, storage folder, keys, source database) of one backup of generated data."""
    folder = tmp_path_factory.mktemp("mariadb-backups")
    keys = make_keys(folder)
    with django_db_blocker.unblock(), backup_settings(folder, keys), audit_rows.removed_afterwards():
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bk_sample")
            cursor.execute(
                "CREATE TABLE bk_sample (id INT PRIMARY KEY, label VARCHAR(120) COLLATE utf8mb4_bin NOT NULL,"
                " payload VARBINARY(300) NOT NULL, note TEXT NULL) CHARACTER SET utf8mb4"
            )
            cursor.execute(
                "INSERT INTO bk_sample SELECT seq, CONCAT('naïve café ✓ 😀 ', seq), RANDOM_BYTES(24),"
                f" IF(seq % 7 = 0, NULL, REPEAT('ü', seq % 20)) FROM seq_1_to_{ROWS}"
            )
            cursor.execute(
                "INSERT INTO bk_sample VALUES (0, %s, %s, %s)", [EDGE_TEXT, EDGE_BYTES, "ß" * 5000]
            )
            cursor.execute("DROP FUNCTION IF EXISTS bk_double")
            cursor.execute("CREATE FUNCTION bk_double(x INT) RETURNS INT DETERMINISTIC RETURN x * 2")
        with as_backup_users(db_users):
            call_command("backup_run", "--note", "module sample")
        manifest = Manifest.from_dict(
            json.loads(next((folder / "store").glob("*.manifest.json")).read_text())
        )
        yield manifest, folder, keys, connection.settings_dict["NAME"]
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bk_sample")
            cursor.execute("DROP FUNCTION IF EXISTS bk_double")


@pytest.fixture
def target_db(db_users):
    name = f"{db_users.drill_prefix}t{secrets.token_hex(4)}"  # the drill user may use it
    yield name
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


def _restore(folder, keys, backup_id: str, target: str, users) -> int:
    with backup_settings(folder, keys), as_backup_users(users):
        try:
            call_command("backup_restore", backup_id, "--target-database", target, "--yes")
        except SystemExit as exit_info:
            return exit_info.code
    return 0


def latest_migration(app: str) -> str:
    from django.db.migrations.loader import MigrationLoader

    (leaf,) = [name for label, name in MigrationLoader(None).graph.leaf_nodes() if label == app]
    return leaf


@pytest.mark.django_db
def test_manifest_describes_the_dump(sample):
    manifest, folder, _keys, source = sample
    archive = folder / "store" / manifest.archive
    assert manifest.row_counts["bk_sample"] == ROWS + 1
    assert manifest.database["vendor"] == "mysql" and manifest.database["name"] == source
    assert "--single-transaction" in manifest.dump["flags"] and "--hex-blob" in manifest.dump["flags"]
    assert manifest.migrations["backups"] == latest_migration("backups")
    assert manifest.stored_size == archive.stat().st_size
    assert manifest.sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert manifest.raw_size > manifest.stored_size  # compressed, and...
    assert b"CREATE TABLE" not in archive.read_bytes()[:1_000_000]  # ...not readable without the key
    assert manifest.position is None  # this server runs without binary logging
    record = BackupRecord.objects.get(backup_id=manifest.id)
    assert (record.status, record.sha256, record.note) == ("ok", manifest.sha256, "module sample")


@pytest.mark.django_db
def test_restore_gives_identical_tables(sample, target_db, db_users):
    manifest, folder, keys, source = sample
    assert _restore(folder, keys, manifest.id, target_db, db_users) == 0
    assert _checksum(target_db) == _checksum(source)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT label, payload, note FROM `{target_db}`.bk_sample WHERE id = 0")
        label, payload, note = cursor.fetchone()
        cursor.execute(f"SELECT COUNT(*), SUM(note IS NULL) FROM `{target_db}`.bk_sample")
        count, nulls = cursor.fetchone()
        cursor.execute(f"SELECT `{target_db}`.bk_double(21)")
        doubled = cursor.fetchone()[0]
    assert (label, bytes(payload), note) == (EDGE_TEXT, EDGE_BYTES, "ß" * 5000)
    assert count == ROWS + 1 and nulls == ROWS // 7
    assert doubled == 42


@pytest.mark.django_db
def test_archive_restores_with_stock_age_zstd_and_mariadb(sample, target_db, db_users):
    """If this project is gone: `age -d | zstd -d | sed | mariadb` as the drill user is all it takes
    (the RUNBOOK's manual restore; sed makes the dump's DEFINERs the loading user's)."""
    manifest, folder, keys, source = sample
    archive = folder / "store" / manifest.archive
    client = f"mariadb --no-defaults --host=127.0.0.1 --user={db_users.drill.user}"
    pipeline = (
        f"{client} -e 'CREATE DATABASE `{target_db}` CHARACTER SET utf8mb4' && "
        f"age --decrypt -i {keys.identity_file} {archive} | zstd -d -q | "
        "sed -E 's/DEFINER=`[^`]*`@`[^`]*`/DEFINER=CURRENT_USER/g' | "
        f"{client} --binary-mode {target_db}"
    )
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", pipeline],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MYSQL_PWD": db_users.drill.password},
    )
    assert done.returncode == 0, done.stderr
    assert _checksum(target_db) == _checksum(source)


def _damaged_copy(folder: Path, manifest: Manifest, damage: str, consistent: bool) -> str:
    """Store a damaged copy of the sample under a new id; `consistent` also fixes its manifest."""
    store = folder / "store"
    data = (store / manifest.archive).read_bytes()
    if damage == "flip":
        middle = len(data) // 2
        data = data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]
    elif damage == "flip-header":  # rage's error for this one has a second, hint line
        data = data[:100] + bytes([data[100] ^ 0x02]) + data[101:]
    elif damage == "truncate":
        data = data[: len(data) - 70_000]
    new_id = f"{manifest.id}-{damage}{'-c' if consistent else ''}"
    copy = Manifest.from_dict({**manifest.to_dict(), "id": new_id, "archive": f"{new_id}.sql.zst.age"})
    (store / copy.archive).write_bytes(data)
    if consistent:  # as if the manifest had been damaged to match: the stream checks must catch it
        copy.stored_size = len(data)
        copy.sha256 = hashlib.sha256(data).hexdigest()
    # Signed, as the writer would: the archive checks, not the MAC, must catch this damage.
    (store / f"{new_id}.manifest.json").write_text(json.dumps(signing.sign(copy.to_dict())))
    return new_id


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("damage", "consistent"),
    [
        ("flip", False),
        ("flip", True),
        ("flip-header", True),
        ("truncate", False),
        ("truncate", True),
        ("wrong-key", False),
    ],
)
def test_damaged_or_wrongly_keyed_archive_is_refused_with_target_untouched(
    sample, target_db, tmp_path, damage, consistent, capsys, db_users
):
    manifest, folder, keys, _source = sample
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{target_db}`")
        cursor.execute(f"CREATE TABLE `{target_db}`.precious (id INT PRIMARY KEY)")
        cursor.execute(f"INSERT INTO `{target_db}`.precious VALUES (1), (2), (3)")
    if damage == "wrong-key":
        backup_id, keys = manifest.id, make_keys(tmp_path)
    else:
        backup_id = _damaged_copy(folder, manifest, damage, consistent)
    assert _restore(folder, keys, backup_id, target_db, db_users) == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("backup_restore: error: restore of") and "verify archive" in error
    assert "Traceback" not in error
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM `{target_db}`.precious")
        assert cursor.fetchone()[0] == 3
    assert not _exists(target_db, "bk_sample")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "garbled",
    [b"", b"{", b"\x80", b"[1, 2]", b'{"format": 1, "database": null}', "archive outside the folder"],
)
def test_a_garbled_manifest_is_refused_in_one_line(sample, target_db, garbled, capsys, db_users):
    manifest, folder, keys, _source = sample
    backup_id = f"{manifest.id}-garbled"
    path = folder / "store" / f"{backup_id}.manifest.json"
    if garbled == "archive outside the folder":
        outside = {**manifest.to_dict(), "id": backup_id, "archive": "../../x.sql.zst.age"}
        garbled = json.dumps(outside).encode()
    path.write_bytes(garbled)
    try:
        assert _restore(folder, keys, backup_id, target_db, db_users) == 1
    finally:
        path.unlink()
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("backup_restore: error: ") and "Traceback" not in err
    assert not _exists(target_db, "bk_sample")


@pytest.mark.django_db
def test_drill_restores_into_a_scratch_database_and_records_rto_rpo(sample, capsys, db_users):
    manifest, folder, keys, _source = sample
    with backup_settings(folder, keys), as_backup_users(db_users):
        call_command("backup_drill", manifest.id, "--json")
    passed = json.loads(capsys.readouterr().out)
    assert passed["status"] == "passed" and passed["mismatches"] == []
    assert (
        f"{ROWS + 1 + sum(v for k, v in manifest.row_counts.items() if k != 'bk_sample')} rows"
        in passed["detail"]
    )
    drill = BackupDrill.objects.get(backup_id=manifest.id)
    assert drill.rto_seconds == passed["rto_seconds"] > 0
    assert drill.rpo_seconds >= (drill.started_at - manifest.started_at).total_seconds() - 1
    with connection.cursor() as cursor:  # the scratch database is gone
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE %s",
            [db_users.drill_prefix.replace("_", "\\_") + "%"],
        )
        assert cursor.fetchone()[0] == 0


@pytest.mark.django_db(transaction=True)
def test_password_goes_by_option_file_never_argv_or_logs(tmp_path, keys, monkeypatch, caplog, capsys):
    """A real MariaDB account with a password: the dump works and the password is nowhere visible."""
    from tests.backups.conftest import extra_alias

    password = "pw-" + secrets.token_hex(12)
    user = f"ops_bk_u{secrets.token_hex(3)}"
    database = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY '{password}'")
        cursor.execute(f"GRANT ALL ON `{database}`.* TO '{user}'@'%%'")
        # Dumping routines another account defined needs this on MariaDB (RUNBOOK: backup account).
        cursor.execute(f"GRANT SELECT ON mysql.proc TO '{user}'@'%%'")
    seen: list = []
    real_popen = subprocess.Popen

    def spying_popen(argv, *args, **kwargs):
        seen.append((list(argv), dict(kwargs.get("env") or {})))
        return real_popen(argv, *args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", spying_popen)
    try:
        url = f"mysql://{user}:{password}@127.0.0.1:3306/{database}"
        with extra_alias("bk_pw", url), backup_settings(tmp_path, keys):
            call_command("backup_run", "--database", "bk_pw")
            wrong = f"mysql://{user}:{password}x@127.0.0.1:3306/{database}"
        with (
            extra_alias("bk_bad", wrong),
            backup_settings(tmp_path, keys),
            pytest.raises(SystemExit) as exit_info,
        ):
            call_command("backup_run", "--database", "bk_bad")
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'%%'")
    assert exit_info.value.code == 1
    assert any("mariadb-dump" in argv[0] for argv, _env in seen)
    for argv, env in seen:
        assert not any(password in part for part in argv)
        assert password not in json.dumps(env)
    assert password not in caplog.text
    # Refused at the server check, before a record or an upload exists; the line names no password.
    assert not BackupRecord.objects.filter(database_alias="bk_bad").exists()
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "cannot query the server of database 'bk_bad'" in error and password not in error
    stored = sorted(os.listdir(tmp_path / "store"))
    ok = BackupRecord.objects.get(database_alias="bk_pw")
    assert stored == sorted([ok.archive_name, f"{ok.backup_id}.manifest.json"])  # nothing of the failed one


@pytest.mark.django_db
def test_a_restore_or_drill_as_the_app_user_fails_with_one_clear_line(sample, target_db, db_users, capsys):
    """The app user owns its schema only: it may not create the database a restore or drill needs."""
    manifest, folder, keys, _source = sample
    app_login = override_settings(BACKUP_RESTORE_DATABASE_URL=db_users.app_url)
    with backup_settings(folder, keys), app_login, pytest.raises(SystemExit) as exit_info:
        call_command("backup_restore", manifest.id, "--target-database", target_db, "--yes")
    assert exit_info.value.code == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "Traceback" not in error
    assert f"user {db_users.app.user} may not create or empty database {target_db!r}" in error
    assert "drill user (BACKUP_RESTORE_DATABASE_URL)" in error
    assert not _exists(target_db, "bk_sample")

    with backup_settings(folder, keys), app_login, pytest.raises(SystemExit) as exit_info:
        call_command("backup_drill", manifest.id)
    assert exit_info.value.code == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and f"user {db_users.app.user} may not create" in error
    drill = BackupDrill.objects.filter(backup_id=manifest.id).latest("started_at")
    assert drill.status == "failed" and "drill user" in drill.detail


@pytest.mark.django_db
def test_drill_restores_into_the_staging_database_when_one_is_configured(sample, db_users, capsys):
    """BACKUP_DRILL_DATABASE_URL: the old runbook's "restore to staging", kept for people to look at."""
    manifest, folder, keys, _source = sample
    staging = f"{db_users.drill_prefix}staging{secrets.token_hex(3)}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{staging}`")
        cursor.execute(f"CREATE TABLE `{staging}`.stale (id INT PRIMARY KEY)")
    url = db_users.url(db_users.drill, staging)
    try:
        with backup_settings(folder, keys), override_settings(BACKUP_DRILL_DATABASE_URL=url):
            call_command("backup_drill", manifest.id, "--json")
        passed = json.loads(capsys.readouterr().out)
        assert passed["status"] == "passed", passed["detail"]
        assert not _exists(staging, "stale") and _exists(staging, "bk_sample")  # emptied, loaded, kept
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM `{staging}`.bk_sample")
            assert cursor.fetchone()[0] == ROWS + 1
            cursor.execute(
                "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE %s",
                [db_users.drill_prefix.replace("_", "\\_") + "%"],
            )
            assert cursor.fetchone()[0] == 1  # the staging database only: no scratch one was made
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{staging}`")
