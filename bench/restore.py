"""Benchmark of backup_restore: throughput against `age -d | zstd -d | mariadb`, and each step's time.

    .venv/bin/python -m bench.restore [--rows 600000] [--repeat 2]

Builds the scratch MariaDB database of bench/backup.py (ops_bk_bench) with --rows rows, makes
one archive of it with `backup_run` (dump -> zstd -> age, manifest) under a fresh age key, and
then restores that same archive, best of --repeat runs each, into an empty database:

- baseline: `age -d -i KEY archive | zstd -d | mariadb TARGET` (no verification, no checks);
- ours: `backup_restore ID --target-database TARGET --yes --json` in a fresh process, timed
  around the command itself; its JSON report gives each step's time (verify archive, load,
  read back row counts, compare), printed so the recovery time is visible step by step.

Prints throughput ours/baseline (target >= 0.9) and the restoring process's peak RSS. With
--rss-rows N (e.g. 10,000,000 rows, about 1 GB of SQL: slow, so not by default) it archives and
restores a second database of N rows too and compares the peak RSS (target: within 20%). Not
measured here yet: point-in-time replay against `mariadb-binlog | mariadb`.
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

from bench.backup import DATABASE, HOST, PYTHON, REPO, build, migrate, sql

TARGETS = {"baseline": "ops_rs_bench_pipe", "ours": "ops_rs_bench_ours"}
TARGET = 0.9


def _env(folder: Path, recipient: str, identity: Path) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": f"mysql://root@127.0.0.1:3306/{DATABASE}",
        "REDIS_URL": "",
        "VAR_DIR": str(folder / "var"),
        "BACKUP_DIR": str(folder / "store"),
        "BACKUP_AGE_RECIPIENTS": recipient,
        "BACKUP_AGE_IDENTITY_FILE": str(identity),
        "BACKUP_MANIFEST_KEY": "bench-restore-manifest-key-0123456789abcdef",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "opsproject.settings",
    }


def make_archive(folder: Path, env: dict) -> Path:
    subprocess.run(
        [PYTHON, "manage.py", "backup_run", "--note", "bench-restore"],
        env=env,
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    [archive] = (folder / "store").rglob("*.zst.age")
    return archive


def baseline(archive: Path, identity: Path) -> float:
    target = TARGETS["baseline"]
    sql(f"DROP DATABASE IF EXISTS {target}; CREATE DATABASE {target} CHARACTER SET utf8mb4")
    command = f"age -d -i {identity} {archive} | zstd -d -q | mariadb {' '.join(HOST)} {target}"
    started = time.perf_counter()
    subprocess.run(["bash", "-o", "pipefail", "-c", command], check=True)
    return time.perf_counter() - started


RUNNER = """
import django, json, sys, time, io
django.setup()
from django.core.management import call_command
out = io.StringIO()
started = time.perf_counter()
call_command("backup_restore", "latest", "--target-database", sys.argv[1], "--yes", "--json", stdout=out)
seconds = time.perf_counter() - started
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"seconds": seconds, "peak_kb": peak, "report": json.loads(out.getvalue())}))
"""


def ours(env: dict) -> dict:
    target = TARGETS["ours"]
    sql(f"DROP DATABASE IF EXISTS {target}")
    done = subprocess.run(
        [PYTHON, "-c", RUNNER, target], env=env, cwd=REPO, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"backup_restore failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=600_000, help="rows of the archived database")
    parser.add_argument("--repeat", type=int, default=2, help="runs per side; the best counts")
    parser.add_argument(
        "--rss-rows", type=int, default=0, help="also restore this many rows; compare peak RSS"
    )
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-restore-"))
    try:
        identity = folder / "identity.txt"
        made = subprocess.run(["age-keygen", "-o", str(identity)], capture_output=True, text=True, check=True)
        recipient = made.stderr.split("Public key:")[-1].strip()
        env = _env(folder, recipient, identity)
        build(options.rows)
        migrate(folder)
        archive = make_archive(folder, env)
        base, mine = [], []
        for _ in range(options.repeat):  # interleaved: both sides see the same machine state
            base.append(baseline(archive, identity))
            mine.append(ours(env))
        best = min(mine, key=lambda run: run["seconds"])
        size_mb = archive.stat().st_size / 1e6
        large = None
        if options.rss_rows:
            shutil.rmtree(folder / "store")
            build(options.rss_rows)
            migrate(folder)
            large_archive = make_archive(folder, env)
            large = {"rows": options.rss_rows, "mb": large_archive.stat().st_size / 1e6, **ours(env)}
    finally:
        for name in (DATABASE, *TARGETS.values()):
            sql(f"DROP DATABASE IF EXISTS {name}")
        shutil.rmtree(folder, ignore_errors=True)

    ratio = min(base) / best["seconds"]
    print(f"restore benchmark: {options.rows} rows, archive {size_mb:.1f} MB (zstd + age), best of")
    print(f"{options.repeat} interleaved runs each, MariaDB on this machine; measured on a loaded machine\n")
    print(f"{'':<34}{'seconds':>9}")
    print(f"{'age -d | zstd -d | mariadb':<34}{min(base):>9.2f}   runs: {' '.join(f'{s:.2f}' for s in base)}")
    runs = " ".join(f"{run['seconds']:.2f}" for run in mine)
    print(f"{'backup_restore --target-database':<34}{best['seconds']:>9.2f}   runs: {runs}")
    for step in best["report"].get("steps", []):
        print(f"  step {step['step']:<28}{step.get('seconds', 0):>9.2f}")
    print(f"\npeak RSS of backup_restore: {best['peak_kb'] / 1024:.1f} MB at {options.rows} rows")
    rss_ok = True
    if large is not None:
        growth = large["peak_kb"] / best["peak_kb"]
        rss_ok = growth <= 1.2
        print(
            f"peak RSS at {large['rows']} rows ({large['mb']:.1f} MB archive, restored in"
            f" {large['seconds']:.1f} s): {large['peak_kb'] / 1024:.1f} MB, {growth:.2f}x (target <= 1.20)"
        )
    verdict = "met" if ratio >= TARGET else "NOT met"
    print(f"\nthroughput ours / pipe: {ratio:.2f} (target >= {TARGET:g}): {verdict}")
    return 0 if ratio >= TARGET and rss_ok else 1


if __name__ == "__main__":
    sys.exit(main())
