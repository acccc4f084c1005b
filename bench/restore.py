"""Benchmark of backup_restore: throughput against `age -d | zstd -d | mariadb`, each step's time, RSS.

    .venv/bin/python -m bench.restore [--rows 600000] [--repeat 2] [--large-rows 4800000]

Builds the scratch MariaDB database of bench/backup.py (ops_bk_bench) with --rows rows and a
smoke user owning one ticket, makes one archive of it with `backup_run` (dump -> zstd -> age,
manifest) under a fresh age key, and restores that same archive, best of --repeat interleaved
runs each, into an empty database:

- baseline: `age -d -i KEY archive | zstd -d | mariadb TARGET` (no verification, no checks);
- ours: `backup_restore latest --target-database TARGET --yes --json` in a fresh process, timed
  around the command itself; its JSON report gives each step's time.

Then the recovery time as a whole: the same archive restored over the live database
(`backup_restore latest --yes`) while a uvicorn web serves it, with BENCH_REDIS_URL (default
redis://127.0.0.1:6379/6) as cache and broker, as production runs it: verify, maintenance on,
pause workers (none runs here: the broadcast waits its reply window), load, read back row counts,
migrate, clear caches, refresh records, resume, maintenance off, health and the smoke login over
HTTP, each step's time printed. Before all that, --large-rows rows (about 1 GB of SQL; the
database bench.backup --keep left at that size is reused) are archived and restored the same
way, and the restoring process's peak RSS is compared with the first size's (target: within
20%). Targets: throughput ours/baseline >= 0.9; the live restore passes; RSS flat.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.backup import DATABASE, HOST, PYTHON, REPO, build, children_cpu, migrate, sql
from tests.support.processes import BIN, free_port, running

TARGETS = {"baseline": "ops_rs_bench_pipe", "ours": "ops_rs_bench_ours"}
TARGET = 0.9
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
SMOKE = {"BACKUP_SMOKE_USERNAME": "bench-smoke", "BACKUP_SMOKE_PASSWORD": "bench-Smoke-pw-4471"}


def keypair(folder: Path) -> tuple[str, Path]:
    """A fresh age key: (recipient, identity file)."""
    identity = folder / "identity.txt"
    made = subprocess.run(["age-keygen", "-o", str(identity)], capture_output=True, text=True, check=True)
    return made.stderr.split("Public key:")[-1].strip(), identity


def restore_env(folder: Path, recipient: str, identity: Path, database_url: str, redis_url: str = "") -> dict:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "VAR_DIR": str(folder / "var"),
        "BACKUP_DIR": str(folder / "store"),
        "BACKUP_AGE_RECIPIENTS": recipient,
        "BACKUP_AGE_IDENTITY_FILE": str(identity),
        "BACKUP_MANIFEST_KEY": "bench-restore-manifest-key-0123456789abcdef",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "opsproject.settings",
    }


def make_archive(folder: Path, env: dict) -> tuple[Path, dict]:
    """The archive backup_run made of the bench database, and its manifest."""
    subprocess.run(
        [PYTHON, "manage.py", "backup_run", "--note", "bench-restore"],
        env=env,
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    [archive] = (folder / "store").glob("*.zst.age")
    [manifest] = (folder / "store").glob("*.manifest.json")
    return archive, json.loads(manifest.read_text())


def baseline(archive: Path, identity: Path) -> dict:
    """The pipe's seconds, and the CPU seconds of age, zstd and the mariadb client."""
    target = TARGETS["baseline"]
    sql(f"DROP DATABASE IF EXISTS {target}; CREATE DATABASE {target} CHARACTER SET utf8mb4")
    command = f"age -d -i {identity} {archive} | zstd -d -q | mariadb {' '.join(HOST)} {target}"
    cpu, started = children_cpu(), time.perf_counter()
    subprocess.run(["bash", "-o", "pipefail", "-c", command], check=True)
    return {"seconds": time.perf_counter() - started, "cpu": children_cpu() - cpu}


# CPU: the command's own threads and its children (the mariadb client), not the start-up.
RUNNER = """
import django, json, resource, sys, time, io
django.setup()
from django.core.management import call_command
def cpu():
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
out, code, before = io.StringIO(), 0, cpu()
started = time.perf_counter()
try:
    call_command("backup_restore", "latest", *sys.argv[1:], "--yes", "--json", stdout=out)
except SystemExit as exit:  # 1: restored, but health failed afterwards (the report says why)
    code = exit.code
seconds, used = time.perf_counter() - started, cpu() - before
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
report = json.loads(out.getvalue())
print(json.dumps({"seconds": seconds, "cpu": used, "peak_kb": peak, "code": code, "report": report}))
"""


def run_restore(env: dict, *argv: str) -> dict:
    """backup_restore latest ARGV in a fresh process: its time, peak RSS, exit code and report."""
    done = subprocess.run(
        [PYTHON, "-c", RUNNER, *argv], env=env, cwd=REPO, capture_output=True, text=True, check=False
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise SystemExit(f"backup_restore failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def ours(env: dict) -> dict:
    sql(f"DROP DATABASE IF EXISTS {TARGETS['ours']}")
    return run_restore(env, "--target-database", TARGETS["ours"])


SMOKE_USER = """
from django.contrib.auth.models import Group, User
from helpdesk.models import Ticket
from helpdesk.permissions import AGENTS_GROUP
agent = User.objects.filter(username="{BACKUP_SMOKE_USERNAME}").first() or User.objects.create_user(
    "{BACKUP_SMOKE_USERNAME}", password="{BACKUP_SMOKE_PASSWORD}"
)
agent.groups.add(Group.objects.get_or_create(name=AGENTS_GROUP)[0])
Ticket.objects.create(requester=agent, subject="restore bench: the smoke login reads this")
"""


def smoke_user(env: dict) -> None:
    command = SMOKE_USER.format(**SMOKE)
    argv = [PYTHON, "manage.py", "shell", "-c", command]
    subprocess.run(argv, env=env, cwd=REPO, check=True, stdout=subprocess.DEVNULL)


def live(env: dict) -> dict:
    """The whole procedure over the live database while a web serves it; the smoke login included."""
    port = free_port()
    env = {**env, "REDIS_URL": REDIS_URL, "SECURE_SSL_REDIRECT": "0", **SMOKE}
    env["BACKUP_SMOKE_URL"] = f"http://127.0.0.1:{port}"
    argv = [str(BIN / "uvicorn"), "opsproject.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
    with running([*argv, "--lifespan", "off"], env=env) as web:
        web.wait_for_line(r"Uvicorn running on", timeout=120)
        return run_restore(env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=600_000, help="rows of the archived database")
    parser.add_argument("--repeat", type=int, default=2, help="runs per side; the best counts")
    parser.add_argument(
        "--large-rows", type=int, default=4_800_000, help="then restore this many rows (about 1 GB of SQL;"
        " 0: skip) and compare peak RSS"
    )  # fmt: skip
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-restore-"))
    try:
        recipient, identity = keypair(folder)
        env = restore_env(folder, recipient, identity, f"mysql://root@127.0.0.1:3306/{DATABASE}")
        large = None
        if options.large_rows:  # first: bench.backup --keep leaves the database at this size
            build(options.large_rows)
            migrate(folder)
            _, large_manifest = make_archive(folder, env)
            large = {"rows": options.large_rows, "manifest": large_manifest, **ours(env)}
            shutil.rmtree(folder / "store")
        build(options.rows)
        migrate(folder)
        smoke_user(env)
        archive, manifest = make_archive(folder, env)
        base, mine = [], []
        for _ in range(options.repeat):  # interleaved: both sides see the same machine state
            base.append(baseline(archive, identity))
            mine.append(ours(env))
        rto = live(env)
    finally:
        for name in (DATABASE, *TARGETS.values()):
            sql(f"DROP DATABASE IF EXISTS {name}")
        shutil.rmtree(folder, ignore_errors=True)
    return show(options, manifest, base, mine, rto, large)


def _steps(run: dict) -> None:
    for step in run["report"].get("steps", []):
        print(f"  step {step['step']:<28}{step.get('seconds', 0):>9.2f}")


def show(options, manifest: dict, base: list, mine: list, rto: dict, large: dict | None) -> int:
    best = min(mine, key=lambda run: run["seconds"])
    pipe = min(base, key=lambda run: run["seconds"])
    ratio = pipe["seconds"] / best["seconds"]
    sql_mb, stored_mb = manifest["raw_size"] / 1e6, manifest["stored_size"] / 1e6
    print(
        f"restore benchmark: {options.rows} rows ({sql_mb:.0f} MB of SQL), archive {stored_mb:.1f} MB (zstd"
    )
    print(f"+ age), best of {options.repeat} interleaved runs each, MariaDB on this machine; measured on a")
    print("loaded machine\n")
    print(f"{'':<34}{'seconds':>9}{'cpu s':>8}")
    runs = " ".join(f"{run['seconds']:.2f}" for run in base)
    print(f"{'age -d | zstd -d | mariadb':<34}{pipe['seconds']:>9.2f}{pipe['cpu']:>8.2f}   runs: {runs}")
    runs = " ".join(f"{run['seconds']:.2f}" for run in mine)
    print(
        f"{'backup_restore --target-database':<34}{best['seconds']:>9.2f}{best['cpu']:>8.2f}   runs: {runs}"
    )
    _steps(best)
    report = rto["report"]
    print("\nrecovery time: the same archive over the LIVE database, a uvicorn web serving it (no worker")
    print("runs: 'pause workers' is the broadcast's reply window), Redis as cache and broker")
    outcome = f"exit {rto['code']}, health {report['health']}"
    print(f"{'backup_restore --yes (live)':<34}{rto['seconds']:>9.2f}   {outcome}")
    _steps(rto)
    print(f"  smoke login: {report['smoke']}")
    peak = best["peak_kb"] / 1024
    print(f"\npeak RSS of backup_restore: {peak:.1f} MB at {options.rows} rows ({sql_mb:.0f} MB of SQL)")
    rss_ok = True
    if large is not None:
        growth = large["peak_kb"] / best["peak_kb"]
        rss_ok = growth <= 1.2
        sizes = large["manifest"]["raw_size"] / 1e6, large["manifest"]["stored_size"] / 1e6
        print(
            f"peak RSS at {large['rows']} rows ({sizes[0]:.0f} MB of SQL, {sizes[1]:.1f} MB archive, restored"
            f" in {large['seconds']:.1f} s): {large['peak_kb'] / 1024:.1f} MB, {growth:.2f}x (target <= 1.20)"
        )
    ok = ratio >= TARGET and rss_ok and rto["code"] == 0
    print("\ncpu s: the client side's CPU (age, zstd and the mariadb client; backup_restore's threads and")
    print(f"its mariadb client), not the server's: pipe / ours {pipe['cpu'] / best['cpu']:.2f}")
    print(f"throughput ours / pipe: {ratio:.2f} (target >= {TARGET:g}); live restore exit {rto['code']}:")
    print("met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
