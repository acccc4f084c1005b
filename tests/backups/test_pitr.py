"""Point-in-time recovery on a MariaDB server of the test's own with binary logging on.

Rows are written before and after a full backup, the binlogs are shipped with `backup_binlogs`,
and `backup_restore --until` must bring back exactly the rows committed before the moment. The
same shipped logs serve the damaged-archive, bad-moment and drill tests; the gap test purges a
log on a second server of its own. Every command runs as the init script's users
(tests/support/db_users.py): the backup user backs up and ships, the drill user restores into
`pitr_src_drill_*`, the pitr user replays, and the app user owns `pitr_src` (live restore); root
only creates the server's databases and writes its rows, as the app would.
"""

from __future__ import annotations

import io
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings

from audit.models import AuditEntry
from backups import binlogs, signing
from backups.health_checks import recovery_point_result
from backups.manifest import Manifest
from backups.models import BackupRecord, BinlogArchive
from tests.backups.conftest import AgeKeys, backup_settings, extra_alias, make_keys
from tests.support.db_users import DatabaseUsers, database_users
from tests.support.mariadb_server import MariaDBServer, mariadb_server

pytestmark = pytest.mark.django_db


def run(*argv) -> tuple[int, str, str]:
    """A command's exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*argv, stdout=out, stderr=err)
    except SystemExit as exit_info:
        return exit_info.code, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def rows(server: MariaDBServer, database: str) -> list[tuple[str, str]]:
    return [
        tuple(line.split("\t"))
        for line in server.sql(f"SELECT id, label FROM {database}.t ORDER BY id").split("\n")
        if line
    ]


def next_second(after: float) -> datetime:
    """Sleep into the second after `after`; return that second's start (UTC)."""
    boundary = int(after) + 1
    time.sleep(max(0.0, boundary - time.time()) + 0.05)
    return datetime.fromtimestamp(boundary, UTC)


@dataclass
class Scenario:
    server: MariaDBServer
    folder: Path
    keys: AgeKeys
    backup: Manifest
    between: datetime  # after row 3 was committed, before row 4
    shipped: dict
    users: DatabaseUsers


def as_users(users: DatabaseUsers):
    """The alias `pitr` as the app user; backups, restores and replays as theirs (as in production)."""
    return override_settings(
        BACKUP_DATABASE_URL=users.backup_url,
        BACKUP_RESTORE_DATABASE_URL=users.drill_url,
        BACKUP_PITR_DATABASE_URL=users.pitr_url,
    )


@pytest.fixture(scope="module")
def scenario(django_db_setup, django_db_blocker, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pitr")
    keys = make_keys(folder)
    with mariadb_server(folder / "server", binlog=True) as server:
        # The alias exists only while something uses it: one present when a test starts would be
        # wrapped by Django's "queries to this database are not allowed" guard.
        with database_users("pitr_src", port=server.port) as users:
            with (
                django_db_blocker.unblock(),
                backup_settings(folder, keys),
                extra_alias("pitr", users.app_url),
                as_users(users),
            ):
                last_audit = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
                scenario = _write_back_up_and_ship(server, folder, keys, users)
            yield scenario
        with django_db_blocker.unblock():
            AuditEntry.objects.filter(id__gt=last_audit).delete()  # its commands' entries
            BackupRecord.objects.filter(database_alias="pitr").delete()
            BinlogArchive.objects.filter(alias="pitr").delete()


def _write_back_up_and_ship(server: MariaDBServer, folder: Path, keys: AgeKeys, users) -> Scenario:
    server.sql(
        "CREATE DATABASE pitr_src; CREATE TABLE pitr_src.t (id INT PRIMARY KEY, label VARCHAR(40));"
        "INSERT INTO pitr_src.t VALUES (1, 'before'), (2, 'before');"
        "CREATE DATABASE other; CREATE TABLE other.n (id INT PRIMARY KEY); INSERT INTO other.n VALUES (1)"
    )
    code, out, err = run("backup_run", "--database", "pitr", "--json")
    assert code == 0, err
    backup = Manifest.from_dict(json.loads(out))
    server.sql("INSERT INTO pitr_src.t VALUES (3, 'after the backup')")
    between = next_second(time.time())
    server.sql(
        "INSERT INTO pitr_src.t VALUES (4, 'after the moment'); UPDATE pitr_src.t SET label = 'changed' "
        "WHERE id = 1; INSERT INTO other.n VALUES (2)"
    )
    next_second(time.time())  # the flush's rotate event lands in a later second than the writes
    code, out, err = run("backup_binlogs", "--database", "pitr", "--json")
    assert code == 0, err
    return Scenario(server, folder, keys, backup, between, json.loads(out), users)


@pytest.fixture
def pitr(scenario):
    with (
        backup_settings(scenario.folder, scenario.keys),
        extra_alias("pitr", scenario.users.app_url),
        as_users(scenario.users),
    ):
        yield scenario


def test_backup_manifest_records_the_binlog_position(pitr):
    position = pitr.backup.position
    assert position["file"] == "binlog.000001" and position["position"] > 4
    assert position["gtid"].startswith("0-1-")
    assert "--master-data=2" in pitr.backup.dump["flags"]


def test_shipped_binlogs_have_a_manifest_each(pitr):
    assert pitr.shipped["binlog"] == "on" and pitr.shipped["gap"] == []
    assert pitr.shipped["shipped"][0] == "binlog.000001" and pitr.shipped["flushed"] is True
    manifests = binlogs.shipped("pitr")
    assert [m.file for m in manifests] == pitr.shipped["shipped"]
    first = manifests[0]
    stored = pitr.folder / "store" / first.archive
    assert first.stored_size == stored.stat().st_size and first.start_position == 4
    assert first.end_position == first.raw_size > first.stored_size // 4
    assert first.first_event_at <= pitr.backup.started_at <= pitr.between <= first.last_event_at
    assert b"pitr_src" not in stored.read_bytes()  # encrypted
    assert pitr.shipped["recovery_point"] == manifests[-1].last_event_at.isoformat()
    assert set(BinlogArchive.objects.filter(alias="pitr").values_list("file", flat=True)) == {
        m.file for m in manifests
    }


def test_restore_until_a_moment_brings_back_exactly_the_rows_committed_before_it(pitr):
    code, out, err = run(
        "backup_restore", pitr.backup.id, "--database", "pitr", "--target-database", "pitr_src_drill_moment",
        "--until", pitr.between.isoformat().replace("+00:00", "Z"), "--yes", "--json",
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    assert [s["step"] for s in report["steps"]] == [
        "verify archive", "verify binlogs", "load", "read back row counts", "replay binlogs",
    ]  # fmt: skip
    assert report["until"] == pitr.between.isoformat() and report["binlogs"] == ["binlog.000001"]
    assert rows(pitr.server, "pitr_src_drill_moment") == [
        ("1", "before"),
        ("2", "before"),
        ("3", "after the backup"),
    ]
    # Only the backed-up database's events were replayed, into the target: the rest is as it was.
    assert pitr.server.sql("SELECT COUNT(*) FROM other.n").strip() == "2"
    assert rows(pitr.server, "pitr_src")[0] == ("1", "changed")

    latest = binlogs.shipped("pitr")[-1].last_event_at
    code, out, err = run(
        "backup_restore", pitr.backup.id, "--database", "pitr", "--target-database", "pitr_src_drill_moment",
        "--until", latest.isoformat(), "--yes",
    )  # fmt: skip
    assert code == 0, err
    assert "rolled forward to" in out
    assert rows(pitr.server, "pitr_src_drill_moment") == rows(pitr.server, "pitr_src") == [
        ("1", "changed"), ("2", "before"), ("3", "after the backup"), ("4", "after the moment"),
    ]  # fmt: skip


def test_a_replay_without_the_pitr_login_fails_naming_its_setting(pitr):
    """The drill user (no BINLOG REPLAY) loads the backup but may not replay: one line says which login."""
    with override_settings(BACKUP_PITR_DATABASE_URL=pitr.users.drill_url):
        code, _out, err = run(
            "backup_restore", pitr.backup.id, "--database", "pitr", "--target-database", "pitr_src_drill_nr",
            "--until", pitr.between.isoformat(), "--yes",
        )  # fmt: skip
    assert code == 1 and err.strip().count("\n") == 0, err
    assert "failed at step 'replay binlogs'" in err and "BINLOG REPLAY" in err
    assert "BACKUP_PITR_DATABASE_URL" in err and pitr.users.drill.password not in err


def test_shipping_again_ships_nothing_new(pitr):
    # Earlier tests loaded databases on this server (logged too): ship that first.
    assert run("backup_binlogs", "--database", "pitr")[0] == 0
    before = sorted(p.name for p in (pitr.folder / "store" / "binlogs" / "pitr").iterdir())
    code, out, err = run("backup_binlogs", "--database", "pitr", "--json")
    assert code == 0, err
    again = json.loads(out)
    assert again["shipped"] == [] and again["flushed"] is False
    assert again["already_shipped"] == len(before) // 2
    assert sorted(p.name for p in (pitr.folder / "store" / "binlogs" / "pitr").iterdir()) == before


def test_a_corrupt_binlog_archive_is_refused_before_the_target_is_touched(pitr):
    pitr.server.sql(
        "CREATE DATABASE IF NOT EXISTS pitr_src_drill_kp;"
        "CREATE TABLE pitr_src_drill_kp.precious (id INT);"
        "INSERT INTO pitr_src_drill_kp.precious VALUES (1), (2)"
    )
    archive = pitr.folder / "store" / binlogs.shipped("pitr")[0].archive
    original = archive.read_bytes()
    middle = len(original) // 2
    archive.write_bytes(original[:middle] + bytes([original[middle] ^ 0x20]) + original[middle + 1 :])
    try:
        code, _out, err = run(
            "backup_restore", pitr.backup.id, "--database", "pitr", "--target-database", "pitr_src_drill_kp",
            "--until", pitr.between.isoformat(), "--yes",
        )  # fmt: skip
    finally:
        archive.write_bytes(original)
    assert code == 1
    line = err.strip()
    assert line.count("\n") == 0 and "failed at step 'verify binlogs'" in line and "target untouched" in line
    assert pitr.server.sql("SHOW TABLES FROM pitr_src_drill_kp").split() == ["precious"]
    assert pitr.server.sql("SELECT COUNT(*) FROM pitr_src_drill_kp.precious").strip() == "2"


@pytest.mark.parametrize(
    ("until", "message"),
    [
        ("before", "is before the snapshot of backup"),
        ("future", "is past the last shipped binlog event"),
        ("2026-12-01T10:42:00", "has no time zone"),
        ("yesterday", "is not an ISO 8601 time"),
    ],
)
def test_a_moment_out_of_reach_is_bad_usage(pitr, until, message):
    moments = {
        "before": (pitr.backup.started_at - timedelta(seconds=5)).isoformat(),
        "future": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
    }
    code, _out, err = run(
        "backup_restore", pitr.backup.id, "--database", "pitr", "--target-database", "pitr_src_drill_never",
        "--until", moments.get(until, until), "--yes",
    )  # fmt: skip
    assert code == 2
    assert err.strip().count("\n") == 0 and message in err and "Traceback" not in err
    assert "pitr_src_drill_never" not in pitr.server.sql("SHOW DATABASES").split()


def test_pitr_drill_replays_every_shipped_binlog_in_a_scratch_database(pitr):
    before = set(pitr.server.sql("SHOW DATABASES").split())
    code, out, err = run("backup_drill", pitr.backup.id, "--database", "pitr", "--pitr", "--json")
    assert code == 0, err
    drill = json.loads(out)
    assert drill["status"] == "passed", drill["detail"]
    assert re.search(r"point in time: replayed \d binlog\(s\) binlog\.000001", drill["detail"])
    assert "4 rows after" in drill["detail"]  # t's four rows; other.n was filtered out
    assert set(pitr.server.sql("SHOW DATABASES").split()) == before  # the scratch database is gone


def test_recovery_point_is_the_last_shipped_event(pitr):
    binlogs.sync_records("pitr", binlogs.shipped("pitr"))  # as every shipment does
    result = recovery_point_result("pitr")
    assert result.status == "pass", result.output
    age = (datetime.now(UTC) - binlogs.shipped("pitr")[-1].last_event_at).total_seconds()
    assert abs(result.observed_value - age) <= 1


def test_a_log_purged_before_it_was_shipped_is_a_gap_with_an_alert_and_a_failing_check(
    tmp_path, keys, django_capture_on_commit_callbacks
):
    from alerts.models import Alert

    with (
        mariadb_server(tmp_path / "server", binlog=True) as server,
        database_users("gap_src", port=server.port) as users,
        extra_alias("pitrgap", users.app_url),
        as_users(users),
        backup_settings(tmp_path, keys),
        override_settings(ADMINS=[("Ops", "ops@example.com")], ALERT_WEBHOOK_URL=""),
    ):
        server.sql("CREATE DATABASE gap_src; CREATE TABLE gap_src.t (id INT PRIMARY KEY, label VARCHAR(40))")
        code, out, err = run("backup_run", "--database", "pitrgap", "--json")
        backup_id = json.loads(out)["id"]
        server.sql("INSERT INTO gap_src.t VALUES (1, 'shipped')")
        assert run("backup_binlogs", "--database", "pitrgap")[0] == 0  # ships binlog.000001
        next_second(time.time())  # the lost row lies after binlog.000001's last event
        server.sql("INSERT INTO gap_src.t VALUES (2, 'lost'); FLUSH BINARY LOGS")
        server.sql("INSERT INTO gap_src.t VALUES (3, 'after the purge')")
        server.sql("PURGE BINARY LOGS TO 'binlog.000003'")  # binlog.000002 never ships

        with django_capture_on_commit_callbacks(execute=True):
            code, out, err = run("backup_binlogs", "--database", "pitrgap")
        assert code == 1
        assert "binlog.000002 purged on the server before it was shipped" in err and err.count("\n") == 1
        assert "shipped binlog.000003" in out  # what exists still ships
        alert = Alert.objects.get(open_key="backups.binlog_gap")
        assert "binlog.000002 never reached storage" in alert.detail
        third = binlogs.shipped("pitrgap")[-1]
        assert (third.file, third.gap_before) == ("binlog.000003", ["binlog.000002"])
        check = recovery_point_result("pitrgap")
        assert check.status == "fail", check.output
        assert "binlog.000002 purged before it was shipped" in check.output
        code, _out, err = run(
            "backup_restore", backup_id, "--database", "pitrgap", "--target-database", "gap_src_drill_r",
            "--until", third.last_event_at.isoformat(), "--yes",
        )  # fmt: skip
        assert code == 1 and "binlog binlog.000002 needed to roll backup" in err

        # A full backup after the gap starts a new chain: the check passes and the alert closes.
        assert run("backup_run", "--database", "pitrgap")[0] == 0
        server.sql("INSERT INTO gap_src.t VALUES (4, 'new chain')")
        with django_capture_on_commit_callbacks(execute=True):
            code, out, err = run("backup_binlogs", "--database", "pitrgap")
        assert code == 0, err
        assert recovery_point_result("pitrgap").status == "pass"
        alert.refresh_from_db()
        assert alert.open_key is None


def test_binlog_off_says_so_and_the_recovery_point_is_the_last_full_backup(
    local_backups, backup_users, db_users
):
    code, out, err = run("backup_binlogs", "--json")  # the shared MariaDB runs without binary logging
    assert code == 1
    assert json.loads(out)["binlog"] == "off"
    assert "binary logging is off" in err and err.strip().count("\n") == 0

    code, out, err = run("backup_run", "--json")
    assert code == 0, err
    backup = json.loads(out)
    assert backup["position"] is None
    check = recovery_point_result()
    assert check.status == "pass" and check.observed_value < 120
    assert check.output == f"binary logging is off: the recovery point is the last full backup {backup['id']}"

    code, _out, err = run(
        "backup_restore", backup["id"], "--target-database", f"{db_users.drill_prefix}never", "--until",
        datetime.now(UTC).isoformat(), "--yes",
    )  # fmt: skip
    assert code == 2 and "has no binary-log position (binary logging was off" in err
    code, _out, err = run("backup_drill", backup["id"], "--pitr")
    assert code == 2 and "has no binary-log position" in err

    # The hourly job: nothing to do and nothing to alert about.
    from alerts.models import Alert
    from backups import tasks
    from scheduler.periodic import registered_jobs

    assert tasks.ship_binlogs.run("default") == {"alias": "default", "binlog": "off"}
    assert not Alert.objects.filter(key__startswith="backups.binlog", open_key__isnull=False).exists()
    [job] = [job for job in registered_jobs() if job.name == "backups.binlogs"]
    assert (job.task, job.schedule.seconds) == ("backups.ship_binlogs", 3600)


def test_the_scheduled_task_ships_binlogs(pitr):
    from backups import tasks

    pitr.server.sql("INSERT INTO pitr_src.t VALUES (5, 'by the job')")
    result = tasks.ship_binlogs.run("pitr")
    assert result["binlog"] == "on" and len(result["shipped"]) == 1 and result["gap"] == []


def _backup_manifest(backup_id: str, started: datetime, log: str | None) -> dict:
    return Manifest(
        id=backup_id,
        archive=f"{backup_id}.sql.zst.age",
        started_at=started,
        finished_at=started + timedelta(minutes=2),
        database={"alias": "default", "vendor": "mysql", "version": "10.11", "name": "ops"},
        dump={"tool": "mariadb-dump", "version": "x", "flags": []},
        raw_size=10,
        stored_size=5,
        sha256="0" * 64,
        recipients=["age1example"],
        position={"file": log, "position": 1234} if log else None,
    ).to_dict()


def _binlog_manifest(number: int, first: datetime) -> binlogs.BinlogManifest:
    name = f"binlog.{number:06d}"
    return binlogs.BinlogManifest(
        alias="default", file=name, sequence=number, archive=f"binlogs/default/{name}.zst.age",
        first_event_at=first, last_event_at=first + timedelta(hours=8), start_position=4,
        end_position=900, events=9, raw_size=900, raw_sha256="1" * 64, stored_size=5, sha256="2" * 64,
        recipients=["age1example"], server={"server_id": 1, "version": "10.11"}, shipped_at=first,
    )  # fmt: skip


@override_settings(BACKUP_KEEP_DAILY=7, BACKUP_KEEP_MONTHLY=2)
def test_retention_keeps_every_binlog_the_daily_window_needs(local_backups):
    """40 days of 02:00 backups, three binlogs a day; the oldest daily backup ran without binlog."""
    store = local_backups
    (store / "binlogs" / "default").mkdir(parents=True)
    newest = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
    positions = {}
    for day in range(40):
        started = newest - timedelta(days=39 - day)
        backup_id = f"{started:%Y%m%dT%H%M%SZ}-default-{day:06x}"
        log = None if day == 33 else f"binlog.{1 + 3 * day:06d}"
        positions[backup_id] = log
        (store / f"{backup_id}.manifest.json").write_text(
            json.dumps(signing.sign(_backup_manifest(backup_id, started, log)))
        )
        (store / f"{backup_id}.sql.zst.age").write_bytes(b"12345")
        for part in range(3):
            item = _binlog_manifest(1 + 3 * day + part, started + timedelta(hours=8 * part))
            (store / item.name).write_text(json.dumps(signing.sign(item.to_dict())))
            (store / item.archive).write_bytes(b"12345")

    code, out, err = run("backup_prune", "--dry-run", "--json")
    assert code == 0, err
    assert len(json.loads(out)["binlogs_deleted"]) > 0 and len(binlogs.shipped("default")) == 120

    code, out, err = run("backup_prune", "--json")
    assert code == 0, err
    result = json.loads(out)
    daily = sorted(i for i, why in result["kept"].items() if not why.startswith("monthly"))
    assert len(daily) == 7 and positions[daily[0]] is None  # day 33: no position, rolls nothing forward
    first_needed = 1 + 3 * 34  # the oldest daily-kept backup with a position (day 34)
    left = [m.sequence for m in binlogs.shipped("default")]
    assert left == list(range(first_needed, 121))  # an unbroken chain from there to the newest log
    assert len(result["binlogs_deleted"]) == first_needed - 1
    assert sorted(p.name for p in (store / "binlogs" / "default").glob("*.zst.age")) == [
        f"binlog.{n:06d}.zst.age" for n in left
    ]
    # Every moment from each daily backup on is reachable: its position's log and all later ones stay.
    for backup_id in daily[1:]:
        assert binlogs.sequence(positions[backup_id]) in left
    assert sorted(BinlogArchive.objects.filter(alias="default").values_list("sequence", flat=True)) == left


def test_shipping_with_the_documented_privileges_keeps_the_password_out_of_argv(pitr, monkeypatch, caplog):
    """An account with only BINLOG MONITOR, RELOAD and REPLICATION SLAVE ships; its password is nowhere."""
    import secrets
    import subprocess

    password = "pw-" + secrets.token_hex(12)
    pitr.server.sql(
        f"CREATE USER 'shipper'@'%' IDENTIFIED BY '{password}';"
        "GRANT BINLOG MONITOR, RELOAD, REPLICATION SLAVE ON *.* TO 'shipper'@'%'"
    )
    seen: list = []
    real_popen = subprocess.Popen

    def spying_popen(argv, *args, **kwargs):
        seen.append((list(argv), dict(kwargs.get("env") or {})))
        return real_popen(argv, *args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", spying_popen)
    pitr.server.sql("INSERT INTO pitr_src.t VALUES (6, 'shipped by a small account')")
    try:
        with extra_alias("pitr_shipper", f"mysql://shipper:{password}@127.0.0.1:{pitr.server.port}/pitr_src"):
            code, out, err = run("backup_binlogs", "--database", "pitr_shipper", "--json")
    finally:
        pitr.server.sql("DROP USER 'shipper'@'%'")
    assert code == 0, err
    assert json.loads(out)["shipped"]  # a new alias without backups: every closed log
    assert any("mariadb-binlog" in argv[0] for argv, _env in seen)
    for argv, env in seen:
        assert not any(password in part for part in argv) and password not in json.dumps(env)
    assert password not in caplog.text and password not in out + err


def test_manual_point_in_time_restore_with_stock_age_zstd_mariadb_binlog_and_mariadb(pitr, tmp_path):
    """The RUNBOOK's fallback without this project, step by step: load as the drill user, replay
    as the pitr user (passwords in MYSQL_PWD here, out of argv)."""
    import os
    import subprocess

    log = binlogs.shipped("pitr")[0]
    store = pitr.folder / "store"
    client = f"mariadb --no-defaults --host=127.0.0.1 --port={pitr.server.port}"
    drill = f'MYSQL_PWD="$DRILL_PW" {client} --user={pitr.users.drill.user}'
    replay = f'MYSQL_PWD="$PITR_PW" {client} --user={pitr.users.pitr.user}'
    script = f"""
        set -euo pipefail
        cd {tmp_path}
        {drill} -e 'CREATE DATABASE pitr_src_drill_manual CHARACTER SET utf8mb4'
        age -d -i {pitr.keys.identity_file} {store / pitr.backup.archive} | zstd -d -q \\
            | {drill} --binary-mode pitr_src_drill_manual
        age -d -i {pitr.keys.identity_file} {store / log.archive} | zstd -d -q > {log.file}
        sha256sum {log.file}
        TZ=UTC mariadb-binlog --start-position={pitr.backup.position["position"]} \\
            --stop-datetime='{pitr.between:%Y-%m-%d %H:%M:%S}' --database=pitr_src \\
            --rewrite-db='pitr_src->pitr_src_drill_manual' --disable-log-bin {log.file} \\
            | {replay} --binary-mode pitr_src_drill_manual
    """
    env = {**os.environ, "DRILL_PW": pitr.users.drill.password, "PITR_PW": pitr.users.pitr.password}
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == log.raw_sha256
    assert rows(pitr.server, "pitr_src_drill_manual") == [
        ("1", "before"),
        ("2", "before"),
        ("3", "after the backup"),
    ]


def test_binlogs_ship_to_s3_and_a_point_in_time_restore_reads_them_back(pitr, s3_server, tmp_path):
    """The same chain through the S3-compatible server: listing a folder, archives, manifests."""
    import secrets

    prefix = f"pitr-{secrets.token_hex(3)}"
    with backup_settings(tmp_path, pitr.keys, s3_server.storage_config(prefix)):
        code, out, err = run("backup_run", "--database", "pitr", "--json")
        assert code == 0, err
        backup = Manifest.from_dict(json.loads(out))
        pitr.server.sql("INSERT INTO pitr_src.t VALUES (7, 'before the s3 moment')")
        moment = next_second(time.time())
        pitr.server.sql("INSERT INTO pitr_src.t VALUES (8, 'after the s3 moment')")
        next_second(time.time())
        code, out, err = run("backup_binlogs", "--database", "pitr", "--json")
        assert code == 0, err
        assert json.loads(out)["shipped"]
        assert json.loads(run("backup_binlogs", "--database", "pitr", "--json")[1])["shipped"] == []
        keys = [
            item["Key"]
            for item in s3_server.client().list_objects_v2(
                Bucket=s3_server.bucket, Prefix=f"{prefix}/binlogs/"
            )["Contents"]
        ]
        assert keys and all(k.endswith((".zst.age", ".manifest.json")) for k in keys)
        code, out, err = run(
            "backup_restore", backup.id, "--database", "pitr", "--target-database", "pitr_src_drill_s3",
            "--until", moment.isoformat(), "--yes",
        )  # fmt: skip
        assert code == 0, err
    restored = [row[0] for row in rows(pitr.server, "pitr_src_drill_s3")]
    assert "7" in restored and "8" not in restored
    assert restored == [row[0] for row in rows(pitr.server, "pitr_src") if row[0] != "8"]


@pytest.mark.django_db(transaction=True)  # the live procedure closes every connection
def test_live_point_in_time_restore_runs_every_step_with_the_replay_after_the_load(pitr, monkeypatch):
    """Last in the module: it rolls pitr_src itself back to the moment."""
    from backups import maintenance

    # pytest-django refuses Django connections to an alias its test case did not declare, and
    # an alias made by the test cannot be declared: the migrate step (tested on the shared
    # MariaDB in test_operations) records its call here instead of migrating pitr_src.
    migrated = []
    monkeypatch.setattr("backups.restore.call_command", lambda *args, **kwargs: migrated.append(kwargs))
    try:
        code, out, err = run(
            "backup_restore", pitr.backup.id, "--database", "pitr", "--until", pitr.between.isoformat(),
            "--yes", "--json",
        )  # fmt: skip
    finally:
        maintenance.disable()
    # Every step must pass; the closing site-wide health verdict is this test run's (no beat leader
    # here, and pytest-django's guard on the test-made alias), so a "fail" there is allowed.
    assert code == 0 or err.strip().endswith("but health is fail afterwards"), err
    report = json.loads(out)
    assert all(step["ok"] for step in report["steps"]), report["steps"]
    steps = [step["step"] for step in report["steps"]]
    assert steps[:6] == [
        "verify archive", "verify binlogs", "maintenance on", "pause workers and beat", "restore database",
        "read back row counts",
    ]  # fmt: skip
    assert steps[6:8] == ["replay binlogs", "migrate"] and steps[-2:] == ["verify health", "smoke login"]
    assert report["live"] is True and report["target"] == "pitr_src" and migrated[0]["database"] == "pitr"
    assert rows(pitr.server, "pitr_src") == [("1", "before"), ("2", "before"), ("3", "after the backup")]
