"""Benchmark of point-in-time replay: `backup_restore --until` against `mariadb-binlog | mariadb`.

    .venv/bin/python -m bench.pitr [--minutes 60] [--events 2] [--tickets 2000]

Starts a private MariaDB with binary logging (tests/support/mariadb_server.py, dropped after),
migrates the project's schema into it and seeds tickets and mail events, then takes a full
backup with `backup_run`. After the backup it writes a simulated hour (--minutes) of a busy
helpdesk's traffic through the `mariadb` client, each second's statements stamped with that
second (SET TIMESTAMP), so the binary logs span the hour: --events webhook mail events a second
(one transaction each), a ticket every 10 s with its notification mail, a reply every 3 s that
updates its ticket, a mail marked sent every 20 s and a retention delete a minute. It closes the
log one second after the hour and ships it with `backup_binlogs` (zstd + age, manifest).

Then the same backup is restored to the end of the hour twice, into empty databases:

- pipe: `age -d | zstd -d | mariadb` for the backup, `age -d | zstd -d > file` for each shipped
  binlog, then `mariadb-binlog --start-position --database --rewrite-db --stop-datetime files |
  mariadb` (the flags the stock procedure needs to replay one database into another);
- ours: `backup_restore latest --target-database T --until END --yes --json` in a fresh process.

Prints each step's time on both sides; the target is the replay's throughput, ours (verify
binlogs + replay binlogs) against the pipe's `mariadb-binlog | mariadb` alone: >= 0.9. Both
targets must hold the same rows as the source (CHECKSUM TABLE), or the run fails.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.restore import keypair, restore_env, run_restore
from tests.support.mariadb_server import mariadb_server

SOURCE = "pitr_bench"
TARGETS = {"pipe": "pitr_bench_pipe", "ours": "pitr_bench_ours"}
TABLES = ("helpdesk_ticket", "helpdesk_reply", "mailops_mailevent", "mailops_outboundmessage")
TARGET = 0.9
KINDS = ("delivered", "opened", "clicked", "delivered", "delivered", "bounced")


def seed(tickets: int, events: int) -> str:
    """The data before the backup: one agent, `tickets` tickets, `events` mail events."""
    return (
        "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff,"
        " is_active, date_joined) VALUES (1, '!', 0, 'requester', '', '', 'r@example.com', 0, 1, NOW(6));"
        "INSERT INTO helpdesk_ticket (id, subject, description, status, priority, created_at, updated_at,"
        " sla_breach_kind, requester_id) SELECT seq, CONCAT('Printer on floor ', seq, ' is jammed'),"
        " REPEAT('It prints half a page and stops. ', 8), 'open', 'normal', NOW(6), NOW(6), '', 1"
        f" FROM seq_1_to_{tickets};" + _events_from_sequence(events)
    )


def _events_from_sequence(count: int) -> str:
    return (
        "INSERT INTO mailops_mailevent (event_id, event_type, esp_event, recipient, recipient_key,"
        " message_id, reject_reason, description, mta_response, occurred_at, received_at, payload)"
        " SELECT CONCAT('seed-', seq), 'delivered', 'delivered', CONCAT('user', seq, '@example.com'),"
        " CONCAT('user', seq, '@example.com'), CONCAT('<', seq, '@mg.example.com>'), '', '', '250 OK',"
        f" NOW(6), NOW(6), '{_payload('seed')}' FROM seq_1_to_{count};"
    )


def _payload(key: str) -> str:
    body = {"event": "delivered", "id": key, "tags": ["ticket-reply"], "delivery-status": {"code": 250}}
    body["envelope"] = {"transport": "smtp", "sending-ip": "198.51.100.7", "targets": "user@example.com"}
    body["headers"] = {"subject": "Re: your ticket", "message-id": f"<{key}@mg.example.com>"}
    return json.dumps(body).replace("'", "''")


def hour_of_writes(start: int, seconds: int, events: int, tickets: int) -> str:
    """SQL for `seconds` simulated seconds from unix time `start`, each stamped with its second."""
    rng = random.Random(23)
    lines, new_tickets = [], 0
    for second in range(seconds):
        now = start + second
        lines.append(f"SET TIMESTAMP={now};")
        for n in range(events):
            key = f"ev-{second}-{n}"
            kind = rng.choice(KINDS)
            lines.append(
                "INSERT INTO mailops_mailevent (event_id, event_type, esp_event, recipient, recipient_key,"
                " message_id, reject_reason, description, mta_response, occurred_at, received_at, payload)"
                f" VALUES ('{key}', '{kind}', '{kind}', 'user{n}@example.com', 'user{n}@example.com',"
                f" '<{key}@mg.example.com>', '', '', '250 2.0.0 OK', NOW(6), NOW(6), '{_payload(key)}');"
            )
        if second % 10 == 0:
            new_tickets += 1
            lines.append(
                "BEGIN; INSERT INTO helpdesk_ticket (id, subject, description, status, priority, created_at,"
                f" updated_at, sla_breach_kind, requester_id) VALUES ({tickets + new_tickets},"
                f" 'New {second}', REPEAT('The VPN drops every ten minutes. ', 6), 'open', 'high', NOW(6),"
                " NOW(6), '', 1);"
                "INSERT INTO mailops_outboundmessage (kind, from_email, `to`, recipients, subject, body,"
                " html, tags, status, message_id, task_id, attempts, error, created_at, updated_at) VALUES"
                f" ('ticket-created', 'help@example.com', '[\"r@example.com\"]', '[]', 'Ticket {second}',"
                " REPEAT('We received your request. ', 10), '', '[]', 'queued', '', '', 0, '', NOW(6),"
                " NOW(6)); COMMIT;"
            )
        if second % 3 == 0:
            ticket = rng.randint(1, tickets + new_tickets)
            lines.append(
                "BEGIN; INSERT INTO helpdesk_reply (body, public, created_at, author_id, ticket_id) VALUES"
                f" (REPEAT('Could you try restarting it? ', 5), 1, NOW(6), 1, {ticket});"
                "UPDATE helpdesk_ticket SET status = 'pending', updated_at = NOW(6), first_responded_at ="
                f" COALESCE(first_responded_at, NOW(6)) WHERE id = {ticket}; COMMIT;"
            )
        if second % 20 == 0:
            lines.append(
                "UPDATE mailops_outboundmessage SET status = 'sent', sent_at = NOW(6), attempts = 1,"
                " updated_at = NOW(6) WHERE status = 'queued' ORDER BY id LIMIT 1;"
            )
        if second % 60 == 59:
            lines.append("DELETE FROM mailops_mailevent WHERE event_id LIKE 'seed-%' ORDER BY id LIMIT 200;")
    # Closing the log one second after the hour: the rotate event ends the shipped log there.
    lines.append(f"SET TIMESTAMP={start + seconds}; FLUSH BINARY LOGS;")
    return "\n".join(lines)


def timed(command: str, env: dict | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(["bash", "-o", "pipefail", "-c", command], check=True, env=env)
    return time.perf_counter() - started


def manage(env: dict, *argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *argv], env=env, cwd=Path(__file__).resolve().parents[1],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(argv)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def pipe(server, folder: Path, identity: Path, backup: dict, until: datetime) -> dict:
    target, client = TARGETS["pipe"], f"mariadb --no-defaults -h127.0.0.1 -P{server.port} -uroot"
    server.sql(f"DROP DATABASE IF EXISTS {target}; CREATE DATABASE {target} CHARACTER SET utf8mb4")
    store, plain = folder / "store", folder / "plain"
    plain.mkdir(exist_ok=True)
    archive = store / backup["archive"]
    steps = {"load backup": timed(f"age -d -i {identity} {archive} | zstd -d -q | {client} {target}")}
    logs = sorted((store / "binlogs").rglob("*.zst.age"))
    decrypt = " && ".join(
        f"age -d -i {identity} {log} | zstd -d -q > {plain / log.name.removesuffix('.zst.age')}"
        for log in logs
    )
    steps["decrypt binlogs"] = timed(decrypt)
    files = " ".join(str(plain / log.name.removesuffix(".zst.age")) for log in logs)
    replay = (
        f"mariadb-binlog --no-defaults --start-position={backup['position']['position']}"
        f" --database={SOURCE} --rewrite-db='{SOURCE}->{target}' --disable-log-bin"
        f" --stop-datetime='{until:%Y-%m-%d %H:%M:%S}' {files} | {client} {target}"
    )
    steps["mariadb-binlog | mariadb"] = timed(replay, env={"PATH": "/usr/bin:/bin", "TZ": "UTC"})
    shutil.rmtree(plain)
    return steps


def checksums(server, database: str) -> str:
    return server.sql(f"CHECKSUM TABLE {', '.join(f'{database}.{t}' for t in TABLES)}").replace(database, "-")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--minutes", type=int, default=60, help="simulated minutes of writes after the backup"
    )
    parser.add_argument("--events", type=int, default=2, help="webhook mail events per simulated second")
    parser.add_argument("--tickets", type=int, default=2000, help="tickets in the backup")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-pitr-"))
    try:
        with mariadb_server(folder / "server", binlog=True) as server:
            report = measure(server, folder, options)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return show(report, options)


def measure(server, folder: Path, options) -> dict:
    recipient, identity = keypair(folder)
    env = restore_env(folder, recipient, identity, f"{server.url}/{SOURCE}")
    server.sql(f"CREATE DATABASE {SOURCE} CHARACTER SET utf8mb4")
    manage(env, "migrate", "-v0")
    server.sql(seed(options.tickets, options.tickets * 10), SOURCE)
    backup = json.loads(manage(env, "backup_run", "--note", "bench-pitr", "--json"))
    start = int(datetime.fromisoformat(backup["started_at"]).timestamp()) + 1
    seconds = options.minutes * 60
    script = folder / "hour.sql"
    script.write_text(hour_of_writes(start, seconds, options.events, options.tickets))
    client = f"mariadb --no-defaults -h127.0.0.1 -P{server.port} -uroot {SOURCE}"
    # Writing the hour is set-up, not measured: no flush per commit while it runs; both restores
    # then run with the server's default (a flush per commit), as production does.
    server.sql("SET GLOBAL innodb_flush_log_at_trx_commit = 2")
    wrote = timed(f"{client} < {script}")
    server.sql("SET GLOBAL innodb_flush_log_at_trx_commit = 1")
    shipped = json.loads(manage(env, "backup_binlogs", "--json"))
    until = datetime.fromtimestamp(start + seconds, UTC)
    raw = sum(p.stat().st_size for p in (folder / "server" / "data").glob("binlog.0*"))
    base = pipe(server, folder, identity, backup, until)
    server.sql(f"DROP DATABASE IF EXISTS {TARGETS['ours']}")
    ours = run_restore(
        env, "--target-database", TARGETS["ours"], "--until", until.isoformat().replace("+00:00", "Z")
    )
    source = checksums(server, SOURCE)
    same = {side: checksums(server, name) == source for side, name in TARGETS.items()}
    rows = server.sql(f"SELECT COUNT(*) FROM {SOURCE}.mailops_mailevent").strip()
    return {"backup": backup, "wrote": wrote, "shipped": shipped, "raw": raw, "base": base,
            "ours": ours, "same": same, "until": until, "events_rows": rows}  # fmt: skip


def show(r: dict, options) -> int:
    sizes = r["backup"]["raw_size"] / 1e6, r["backup"]["stored_size"] / 1e6
    print("point-in-time replay benchmark: a private MariaDB with binary logging (ROW), a backup of")
    print(
        f"{sizes[0]:.1f} MB of SQL ({sizes[1]:.1f} MB zstd + age), then {options.minutes} simulated minutes"
    )
    print(f"of writes ({options.events} mail events/s, one transaction each,")
    print("a ticket per 10 s, a reply per 3 s, a sent mail per 20 s, a retention delete per minute),")
    print(f"written in {r['wrote']:.1f} s; binary logs on the server {r['raw'] / 1e6:.1f} MB, shipped as")
    logs = ", ".join(r["shipped"]["shipped"])
    print(f"{logs}; both sides restore to {r['until']:%H:%M:%S} UTC (the hour's end);")
    print("measured on a loaded machine\n")
    base, steps = r["base"], {s["step"]: s.get("seconds", 0.0) for s in r["ours"]["report"]["steps"]}
    print(f"{'pipe (age, zstd, mariadb-binlog, mariadb)':<44}{'seconds':>9}")
    for step, seconds in base.items():
        print(f"  {step:<42}{seconds:>9.2f}")
    print(f"  {'total':<42}{sum(base.values()):>9.2f}")
    print(f"{'backup_restore --until':<44}")
    for step, seconds in steps.items():
        print(f"  {step:<42}{seconds:>9.2f}")
    print(f"  {'total (the command, in its process)':<42}{r['ours']['seconds']:>9.2f}")
    print(f"\npeak RSS of backup_restore --until: {r['ours']['peak_kb'] / 1024:.1f} MB")
    print(
        f"rows of the hour's end restored: pipe {_same(r['same']['pipe'])}, ours {_same(r['same']['ours'])}"
    )
    replay = steps.get("verify binlogs", 0) + steps.get("replay binlogs", 0)
    ratio = base["mariadb-binlog | mariadb"] / replay
    whole = sum(base.values()) / r["ours"]["seconds"]
    print(f"whole restore, pipe / ours: {whole:.2f}")
    ok = ratio >= TARGET and all(r["same"].values())
    print(
        f"replay throughput ours (verify + replay binlogs) / mariadb-binlog | mariadb: {ratio:.2f}"
        f" (target >= {TARGET:g}): {'met' if ok else 'NOT met'}"
    )
    return 0 if ok else 1


def _same(same: bool) -> str:
    return "same as the source" if same else "DIFFERENT from the source"


if __name__ == "__main__":
    sys.exit(main())
