"""Benchmark of backup_run: throughput against `mariadb-dump | zstd`, peak memory at two sizes.

    .venv/bin/python bench/backup.py [--rows 150000] [--repeat 2]

Builds a scratch MariaDB database (ops_bk_bench, dropped afterwards) twice, at ROWS and 4 x
ROWS rows, and for each size measures, best of --repeat runs:

- baseline: `mariadb-dump <same flags> | zstd -3 > file` (no encryption, no manifest);
- ours: `backup_run` (dump -> zstd -> age -> local storage, manifest, record) in a fresh
  process, timed around the command itself (the interpreter's and Django's start-up, ~1-2 s,
  is shown separately as "+startup s"); the process reports its own peak RSS (VmHWM).

Prints a table of ratios: throughput ours/baseline (target >= 0.85) and peak RSS large/small
(target <= 1.20: memory must not grow with the database).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
DATABASE = "ops_bk_bench"
HOST = ["--host=127.0.0.1", "--user=root"]
FLAGS = [
    "--single-transaction",
    "--quick",
    "--routines",
    "--events",
    "--triggers",
    "--hex-blob",
    "--default-character-set=utf8mb4",
    "--no-tablespaces",
]


def sql(statement: str, database: str = "") -> None:
    subprocess.run(["mariadb", *HOST, *([database] if database else []), "-e", statement], check=True)


def build(rows: int) -> int:
    sql(f"DROP DATABASE IF EXISTS {DATABASE}; CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4")
    sql(
        f"CREATE TABLE {DATABASE}.sample (id INT PRIMARY KEY, label VARCHAR(100), body TEXT,"
        " payload VARBINARY(32)) CHARACTER SET utf8mb4"
    )
    step = 100_000
    for start in range(1, rows + 1, step):
        end = min(start + step - 1, rows)
        sql(
            f"INSERT INTO {DATABASE}.sample SELECT seq, CONCAT('customer ', seq, ' naïve café ✓'),"
            f" REPEAT(MD5(seq), 4), RANDOM_BYTES(16) FROM seq_{start}_to_{end}",
            DATABASE,
        )
    return rows


def baseline(folder: Path) -> tuple[float, int]:
    target = folder / "baseline.sql.zst"
    command = f"mariadb-dump {' '.join(HOST + FLAGS)} {DATABASE} | zstd -3 -q > {target}"
    started = time.perf_counter()
    subprocess.run(["bash", "-o", "pipefail", "-c", command], check=True)
    elapsed = time.perf_counter() - started
    size = target.stat().st_size
    target.unlink()
    return elapsed, size


RUNNER = """
import django, os, time
django.setup()
from django.core.management import call_command
started = time.perf_counter()
call_command("backup_run", "--note", "bench")
print("RUN_S", time.perf_counter() - started)
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        print("PEAK_KB", int(line.split()[1]))
"""


def ours(folder: Path) -> tuple[float, int, int, float]:
    """(seconds of the backup itself, stored bytes, peak RSS KiB, seconds including start-up)."""
    store = folder / "store"
    env = {
        **os.environ,
        "DATABASE_URL": f"mysql://root@127.0.0.1:3306/{DATABASE}",
        "REDIS_URL": "",
        "VAR_DIR": str(folder / "var"),
        "BACKUP_DIR": str(store),
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "opsproject.settings",
    }
    started = time.perf_counter()
    done = subprocess.run(
        [PYTHON, "-c", RUNNER], env=env, cwd=REPO, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"backup_run failed:\n{done.stderr[-2000:]}")
    values = dict(line.split() for line in done.stdout.splitlines() if line.startswith(("PEAK_KB", "RUN_S")))
    size = sum(p.stat().st_size for p in store.glob("*.zst.age"))
    shutil.rmtree(store)
    return float(values["RUN_S"]), size, int(values["PEAK_KB"]), elapsed


def migrate(folder: Path) -> None:
    """backup_run records a BackupRecord, so the bench database needs the project's tables."""
    env = {**os.environ, "DATABASE_URL": f"mysql://root@127.0.0.1:3306/{DATABASE}", "REDIS_URL": ""}
    env["VAR_DIR"] = str(folder / "var")
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "-v0"], env=env, cwd=REPO, check=True, stdout=subprocess.DEVNULL
    )


def measure(rows: int, repeat: int, folder: Path) -> dict:
    build(rows)
    migrate(folder)
    base = min(baseline(folder) for _ in range(repeat))
    mine = min((ours(folder) for _ in range(repeat)), key=lambda r: r[0])
    raw = int(
        subprocess.run(
            ["bash", "-o", "pipefail", "-c", f"mariadb-dump {' '.join(HOST + FLAGS)} {DATABASE} | wc -c"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    return {
        "rows": rows,
        "raw_mb": raw / 1e6,
        "base_s": base[0],
        "ours_s": mine[0],
        "ratio": base[0] / mine[0],
        "ours_mb": mine[1] / 1e6,
        "base_mb": base[1] / 1e6,
        "peak_mb": mine[2] / 1024,
        "ours_total_s": mine[3],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=150_000, help="rows of the small database (large: 4x)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement; the best counts")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-backup-"))
    try:
        small = measure(options.rows, options.repeat, folder)
        large = measure(options.rows * 4, options.repeat, folder)
    finally:
        sql(f"DROP DATABASE IF EXISTS {DATABASE}")
        shutil.rmtree(folder, ignore_errors=True)
    header = (
        "rows",
        "raw MB",
        "baseline s",
        "ours s",
        "throughput",
        "base MB",
        "ours MB",
        "peak RSS MB",
        "+startup s",
    )
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (9, 8, 11, 8, 11, 8, 8, 12, 11), strict=True)))
    for r in (small, large):
        print(
            f"{r['rows']:>9} {r['raw_mb']:>8.1f} {r['base_s']:>11.2f} {r['ours_s']:>8.2f}"
            f" {r['ratio']:>10.2f}x {r['base_mb']:>8.1f} {r['ours_mb']:>8.1f} {r['peak_mb']:>12.1f}"
            f" {r['ours_total_s']:>11.2f}"
        )
    rss_ratio = large["peak_mb"] / small["peak_mb"]
    worst = min(small["ratio"], large["ratio"])
    print()
    print(f"throughput ours / (mariadb-dump | zstd): {worst:.2f} (worst of the two sizes; target >= 0.85)")
    print(f"peak RSS {large['rows']} rows / {small['rows']} rows: {rss_ratio:.2f} (target <= 1.20)")
    ok = worst >= 0.85 and rss_ratio <= 1.20
    print("PASS" if ok else "BELOW TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
