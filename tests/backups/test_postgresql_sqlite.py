"""Backups of real PostgreSQL and SQLite databases: backup then restore gives identical tables."""

from __future__ import annotations

import json
import secrets
import sqlite3
import subprocess

import pytest
from django.core.management import call_command

from backups.models import BackupDrill
from tests.backups.conftest import backup_settings, extra_alias

pytestmark = pytest.mark.django_db(transaction=True)

PG = "postgres://postgres@127.0.0.1:5432/{}"
EDGE_TEXT = 'it\'s \\ "quoted"\n\t— 漢字 🚀 end'


def psql(database: str, sql: str) -> str:
    done = subprocess.run(
        [
            "psql",
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            database,
        ],
        input=sql,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def pg_databases():
    names = [f"ops_bk_pg_{secrets.token_hex(4)}", f"ops_bk_pg_{secrets.token_hex(4)}"]
    psql("postgres", f"CREATE DATABASE {names[0]} ENCODING 'UTF8' TEMPLATE template0")
    yield names
    for name in names:
        psql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_postgresql_round_trip_and_drill(pg_databases, tmp_path, keys, capsys):
    source, target = pg_databases
    psql(
        source,
        f"""
        CREATE TABLE sample (id int PRIMARY KEY, label text NOT NULL, payload bytea NOT NULL, note text);
        INSERT INTO sample SELECT g, 'naïve café ✓ 😀 ' || g,
            decode(md5(g::text) || md5((g * 7)::text), 'hex'),
            CASE WHEN g % 7 = 0 THEN NULL ELSE repeat('ü', g % 20) END
            FROM generate_series(1, 50000) g;
        INSERT INTO sample VALUES (0, $${EDGE_TEXT}$$, '\\x{bytes(range(256)).hex()}', NULL);
        CREATE TABLE django_migrations (id serial PRIMARY KEY, app text, name text, applied timestamptz);
        INSERT INTO django_migrations (app, name, applied) VALUES
            ('shop', '0001_initial', now()), ('shop', '0002_more', now()), ('auth', '0001_initial', now());
        CREATE VIEW sample_view AS SELECT id FROM sample WHERE note IS NULL;
        """,
    )
    digest = (
        "SELECT md5(string_agg(id || ':' || label || ':' || encode(payload, 'hex') || ':'"
        " || coalesce(note, '~'), ',' ORDER BY id)) FROM sample"
    )
    with extra_alias("bk_pg", PG.format(source)), backup_settings(tmp_path, keys):
        call_command("backup_run", "--database", "bk_pg", "--json")
        manifest = json.loads(capsys.readouterr().out)
        call_command(
            "backup_restore", manifest["id"], "--database", "bk_pg", "--target-database", target, "--yes"
        )
        assert capsys.readouterr().out.startswith(f"restored {manifest['id']} into {target}")
        call_command("backup_drill", manifest["id"], "--database", "bk_pg", "--json")
        drill = json.loads(capsys.readouterr().out)
    assert manifest["database"]["vendor"] == "postgresql" and manifest["dump"]["tool"] == "pg_dump"
    assert manifest["row_counts"] == {"django_migrations": 3, "sample": 50001}
    assert manifest["migrations"] == {"auth": "0001_initial", "shop": "0002_more"}
    assert psql(target, digest) == psql(source, digest)
    assert psql(target, "SELECT count(*) FROM sample_view") == psql(
        source, "SELECT count(*) FROM sample_view"
    )
    assert psql(target, "SELECT label FROM sample WHERE id = 0") == EDGE_TEXT
    assert drill["status"] == "passed", drill
    assert BackupDrill.objects.get().status == "passed"
    scratch = psql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE '%\\_drill\\_%'")
    assert scratch == "0"


def _sqlite_rows(path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT id, label, payload, note FROM sample ORDER BY id").fetchall()


def test_sqlite_round_trip_and_drill(tmp_path, keys, capsys):
    source, target = tmp_path / "source.sqlite3", tmp_path / "restored.sqlite3"
    with sqlite3.connect(source) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE sample (id INTEGER PRIMARY KEY, label TEXT, payload BLOB, note TEXT)")
        db.executemany(
            "INSERT INTO sample VALUES (?, ?, ?, ?)",
            (
                (i, f"naïve ✓ 😀 {i}", secrets.token_bytes(20), None if i % 7 == 0 else "ü" * (i % 20))
                for i in range(20000)
            ),
        )
        db.execute("INSERT INTO sample VALUES (-1, ?, ?, NULL)", (EDGE_TEXT, bytes(range(256))))
    target.write_bytes(b"not a database, must be replaced atomically")
    with extra_alias("bk_sqlite", f"sqlite:///{source}"), backup_settings(tmp_path, keys):
        call_command("backup_run", "--database", "bk_sqlite", "--json")
        manifest = json.loads(capsys.readouterr().out)
        call_command(
            "backup_restore", "latest", "--database", "bk_sqlite", "--target-database", str(target), "--yes"
        )
        capsys.readouterr()
        call_command("backup_drill", "latest", "--database", "bk_sqlite", "--json")
        drill = json.loads(capsys.readouterr().out)
    assert manifest["database"]["vendor"] == "sqlite" and manifest["row_counts"] == {"sample": 20001}
    assert _sqlite_rows(target) == _sqlite_rows(source)
    assert drill["status"] == "passed", drill
    assert sorted(p.name for p in tmp_path.iterdir() if "drill" in p.name or "backup-" in p.name) == []
