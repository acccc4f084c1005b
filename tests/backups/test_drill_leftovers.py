"""A drill killed mid-run leaves its scratch database; the next drill drops it, not a live drill's.

Real drills run as `manage.py`-style processes (the drill user, the shared MariaDB), each paused
right after its load with its scratch database in place. One is SIGKILLed, as a worker's OOM kill
or a node loss would; its connection dies and MariaDB frees its lock. The next drill drops that
leftover and leaves the scratch database of the drill still paused (its lock held) alone.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import re
import secrets
import signal
import sys

import pytest
from django.core.management import call_command
from django.db import connection

from backups import drill_scratch, logins
from backups.dumpers import dumper_for
from backups.dumpers.base import scratch_prefix
from backups.models import BackupDrill
from tests.backups.conftest import as_backup_users, backup_settings, extra_alias
from tests.support.celery_worker import child_env
from tests.support.db_users import database_users
from tests.support.processes import running
from tests.support.waiting import wait_until

# A real drill whose comparison step waits forever: it holds its lock and its loaded scratch database.
PAUSED_DRILL = """
import sys, time
import django
django.setup()
from backups import drill
def paused(*args):
    print("drill paused after the load", flush=True)
    time.sleep(3600)
drill.compare_counts = paused
from django.core.management import call_command
call_command("backup_drill", sys.argv[1])
"""


def scratch_databases(prefix: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT schema_name FROM information_schema.schemata")
        return {name for (name,) in cursor.fetchall() if name.startswith(prefix)}


def lock_is_free(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT IS_FREE_LOCK(%s)", [name])
        return cursor.fetchone()[0] == 1


def paused_drill(backup_id: str, env: dict):
    return running([sys.executable, "-c", PAUSED_DRILL, backup_id], env=env)


@pytest.mark.django_db(transaction=True)
def test_the_next_drill_drops_a_killed_drills_scratch_database_but_not_a_running_ones(
    tmp_path, keys, db_users
):
    prefix = db_users.drill_prefix
    with backup_settings(tmp_path, keys), as_backup_users(db_users):
        call_command("backup_run", "--json", stdout=(out := io.StringIO()))
        backup_id = json.loads(out.getvalue())["id"]
    env = child_env(
        DJANGO_SETTINGS_MODULE="opsproject.settings",
        BACKUP_DIR=str(tmp_path / "store"),
        BACKUP_AGE_RECIPIENTS=keys.recipient,
        BACKUP_AGE_IDENTITY_FILE=str(keys.identity_file),
        BACKUP_DATABASE_URL=db_users.backup_url,
        BACKUP_RESTORE_DATABASE_URL=db_users.drill_url,
    )
    before = scratch_databases(prefix)
    try:
        with paused_drill(backup_id, env) as killed:
            killed.wait_for_line("drill paused after the load", timeout=180)
            (leftover,) = scratch_databases(prefix) - before
            assert not lock_is_free(leftover)
            killed.signal(signal.SIGKILL)
            killed.proc.wait(timeout=60)
        wait_until(lambda: lock_is_free(leftover), 30, "MariaDB to free the killed drill's lock")
        assert leftover in scratch_databases(prefix)  # nothing dropped it yet

        with paused_drill(backup_id, env) as alive:
            alive.wait_for_line("drill paused after the load", timeout=180)
            (live_scratch,) = scratch_databases(prefix) - before - {leftover}
            with backup_settings(tmp_path, keys), as_backup_users(db_users):
                call_command("backup_drill", backup_id, stdout=io.StringIO())
            drill = BackupDrill.objects.latest("id")
            assert drill.status == "passed", drill.detail
            assert leftover not in scratch_databases(prefix)
            assert live_scratch in scratch_databases(prefix) and not lock_is_free(live_scratch)
    finally:
        with connection.cursor() as cursor:
            for name in scratch_databases(prefix) - before:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.mark.django_db(transaction=True)
def test_backup_restore_refuses_a_target_the_next_drill_would_drop(tmp_path, keys, capsys):
    # A date-stamped copy is 8 hex digits too: the next drill would take it for a dead drill's scratch.
    target = dumper_for("default").scratch_name("20261203")
    with backup_settings(tmp_path, keys), pytest.raises(SystemExit) as exit_info:
        call_command("backup_restore", "latest", "--target-database", target, "--yes")
    assert exit_info.value.code == 2
    assert "named like a drill's scratch database" in capsys.readouterr().err
    assert target not in scratch_databases(target)


@pytest.mark.django_db(transaction=True)
def test_a_drills_lock_outlives_a_short_server_idle_timeout():
    # The lock's session idles for the whole drill; a server ending idle sessions sooner than a
    # drill lasts must not free the lock of a drill still running.
    settings_dict = copy.deepcopy(connection.settings_dict)
    settings_dict.setdefault("OPTIONS", {})["init_command"] = "SET SESSION wait_timeout = 1"
    dumper = dumper_for("default", settings_dict)
    name = dumper.scratch_name("0badc0de")

    def holder_idle_seconds() -> int | None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT time FROM information_schema.processlist WHERE id = IS_USED_LOCK(%s)", [name]
            )
            row = cursor.fetchone()
        return row[0] if row else None

    with drill_scratch.held(dumper, name):
        wait_until(
            lambda: (holder_idle_seconds() or 0) >= 3 or lock_is_free(name),
            60,
            "the lock's session to idle past the server's 1 s wait_timeout",
        )
        assert not lock_is_free(name)
    wait_until(lambda: lock_is_free(name), 30, "the lock to be freed when the drill ends")


@pytest.mark.django_db(transaction=True)
def test_a_leftover_the_login_cannot_drop_is_skipped_and_the_others_dropped(caplog):
    # A leftover the drill login may see but not drop (a grant narrowed by hand, a schema
    # directory MariaDB cannot remove) used to raise out of every later drill before it began.
    user, password = f"nodrop_{secrets.token_hex(3)}", secrets.token_hex(12)
    stuck, dead = (dumper_for("default").scratch_name(suffix) for suffix in ("5ca1ab1e", "0dead0ff"))
    with connection.cursor() as cursor:
        for name in (stuck, dead):
            cursor.execute(f"CREATE DATABASE `{name}`")
        cursor.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        cursor.execute(f"GRANT SELECT ON `{stuck}`.* TO '{user}'@'%'")
        cursor.execute(f"GRANT ALL PRIVILEGES ON `{dead}`.* TO '{user}'@'%'")
    try:
        login = {**copy.deepcopy(connection.settings_dict), "USER": user, "PASSWORD": password}
        assert drill_scratch.drop_abandoned(dumper_for("default", login)) == [dead]
        assert scratch_databases(stuck) == {stuck} and not scratch_databases(dead)
        assert f"scratch database {stuck} of a dead drill could not be dropped" in caplog.text
        assert lock_is_free(stuck)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'%'")
            for name in (stuck, dead):
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.mark.django_db(transaction=True)
def test_a_60_character_database_keeps_the_whole_random_suffix_of_its_scratch_names(
    tmp_path, keys, caplog, capsys
):
    # MariaDB names are at most 64 characters: `<60 characters>_drill_<8 hex>` used to be cut
    # inside the suffix, so two drills could pick the same name and the cleanup recognised none.
    long_name = f"ops_long_{secrets.token_hex(3)}_".ljust(60, "x")
    twin = long_name[:-1] + "y"  # the same first 59 characters
    db = connection.settings_dict
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{long_name}` CHARACTER SET utf8mb4")
        cursor.execute(f"CREATE TABLE `{long_name}`.t (id INT PRIMARY KEY)")
        cursor.execute(f"INSERT INTO `{long_name}`.t VALUES (1), (2), (3)")
    scratch = set()
    try:
        with (
            database_users(
                long_name,
                host=db["HOST"] or "127.0.0.1",
                port=int(db["PORT"] or 3306),
                root_password=db["PASSWORD"],
            ) as users,
            extra_alias("longname", users.app_url),
            backup_settings(tmp_path, keys),
            as_backup_users(users),
        ):
            dumper = logins.restore_dumper("longname")
            prefix = dumper.scratch_name("")
            assert dumper.database_name == long_name and prefix == users.drill_prefix
            assert len(prefix) + 8 <= 63 and prefix == dumper_for("longname").scratch_name("")
            assert prefix != scratch_prefix(twin)
            # A dead drill's leftover, made by the drill user as a drill makes one: the init
            # script's grant covers the shortened prefix.
            leftover = dumper.scratch_name(secrets.token_hex(4))
            scratch.add(leftover)
            dumper.prepare_target(leftover)
            assert drill_scratch.is_scratch(dumper, leftover)

            call_command("backup_run", "--database", "longname", "--json", stdout=(out := io.StringIO()))
            backup_id = json.loads(out.getvalue())["id"]
            with caplog.at_level(logging.INFO, logger="backups"):
                call_command("backup_drill", backup_id, "--database", "longname", stdout=io.StringIO())
            drill = BackupDrill.objects.latest("id")
            assert drill.status == "passed" and "3 rows match" in drill.detail, drill.detail
            used = re.search(r"restoring into scratch database (\S+)", caplog.text)[1]
            scratch.add(used)
            assert used.startswith(prefix) and re.fullmatch("[0-9a-f]{8}", used[len(prefix) :]), used
            assert f"dropped scratch database {leftover} left by a drill that died" in caplog.text
            assert not scratch_databases(prefix)

            target = dumper.scratch_name("20261203")
            with pytest.raises(SystemExit) as exit_info:
                restore = ["backup_restore", backup_id, "--database", "longname", "--target-database", target]
                call_command(*restore, "--yes")
            assert exit_info.value.code == 2
            assert "named like a drill's scratch database" in capsys.readouterr().err
            assert not scratch_databases(target)
    finally:
        with connection.cursor() as cursor:
            for name in {long_name, *scratch}:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
