"""Benchmark of backup_run: throughput against `mariadb-dump | zstd`, peak memory at three sizes.

    .venv/bin/python -m bench.backup [--rows 150000] [--repeat 2] [--large-rows 4800000]

Builds a scratch MariaDB database (ops_bk_bench, dropped afterwards unless --keep, which
`make bench` passes so that bench.restore reuses the largest) three times, at ROWS, 4 x
ROWS and --large-rows rows (about 1 GB of SQL; measured once per side, 0 skips it), and for each
size measures, best of --repeat runs:

- baseline: `mariadb-dump <same flags> | zstd -3 > file` (no encryption, no manifest);
- ours: `backup_run` (dump -> zstd -> age -> local storage, manifest, record) in a fresh
  process, timed around the command itself (the interpreter's and Django's start-up, ~1-2 s,
  is shown separately as "+startup s"); the process reports its own peak RSS (VmHWM).

Prints a table of ratios: throughput ours/baseline (target >= 0.85), peak RSS largest/smallest
across the sizes (target <= 1.20: memory must not grow with the database), and the CPU seconds
each side spent (on a loaded machine throughput follows CPU cost more than on a quiet one).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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


def built_rows() -> int:
    """Rows of the bench table as build() left it (0 when there is none)."""
    done = subprocess.run(
        ["mariadb", *HOST, "-N", "-e", f"SELECT MAX(id) FROM {DATABASE}.sample"],
        capture_output=True,
        text=True,
    )
    value = done.stdout.strip()
    return int(value) if done.returncode == 0 and value.isdigit() else 0


def build(rows: int) -> int:
    """The bench database with `rows` rows; one left at that size (by bench.backup) is reused."""
    if built_rows() == rows:
        return rows
    # Only the sample table is remade: the project's tables stay migrated between sizes.
    sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE} CHARACTER SET utf8mb4")
    sql(f"DROP TABLE IF EXISTS {DATABASE}.sample")
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


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def baseline(folder: Path) -> tuple[float, int, float]:
    """(seconds, compressed bytes, CPU seconds of mariadb-dump and zstd)."""
    target = folder / "baseline.sql.zst"
    command = f"mariadb-dump {' '.join(HOST + FLAGS)} {DATABASE} | zstd -3 -q > {target}"
    cpu, started = children_cpu(), time.perf_counter()
    subprocess.run(["bash", "-o", "pipefail", "-c", command], check=True)
    elapsed, cpu = time.perf_counter() - started, children_cpu() - cpu
    size = target.stat().st_size
    target.unlink()
    return elapsed, size, cpu


# CPU: the command's own (its threads) and its mariadb-dump's, not the interpreter's start-up.
RUNNER = """
import django, os, resource, time
django.setup()
from django.core.management import call_command
def cpu():
    own, dump = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + dump.ru_utime + dump.ru_stime
before, started = cpu(), time.perf_counter()
call_command("backup_run", "--note", "bench")
print("RUN_S", time.perf_counter() - started)
print("CPU_S", cpu() - before)
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        print("PEAK_KB", int(line.split()[1]))
"""


def ours(folder: Path) -> tuple[float, int, int, float, int, float]:
    """(seconds of the backup itself, stored bytes, peak RSS KiB, seconds with start-up, SQL bytes,
    CPU seconds of the backup itself)."""
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
    values = dict(
        line.split() for line in done.stdout.splitlines() if line.startswith(("PEAK_KB", "RUN_S", "CPU_S"))
    )
    size = sum(p.stat().st_size for p in store.glob("*.zst.age"))
    [manifest] = store.glob("*.manifest.json")
    raw = json.loads(manifest.read_text())["raw_size"]
    shutil.rmtree(store)
    return float(values["RUN_S"]), size, int(values["PEAK_KB"]), elapsed, raw, float(values["CPU_S"])


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
    return {
        "rows": rows,
        "raw_mb": mine[4] / 1e6,
        "base_s": base[0],
        "ours_s": mine[0],
        "ratio": base[0] / mine[0],
        "ours_mb": mine[1] / 1e6,
        "base_mb": base[1] / 1e6,
        "peak_mb": mine[2] / 1024,
        "ours_total_s": mine[3],
        "cpu_ratio": base[2] / mine[5],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=150_000, help="rows of the small database (large: 4x)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement; the best counts")
    parser.add_argument(
        "--large-rows", type=int, default=4_800_000, help="a third size, about 1 GB of SQL (0: skip)"
    )
    parser.add_argument(
        "--keep", action="store_true", help=f"leave {DATABASE} at its last size for bench.restore to reuse"
    )
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-backup-"))
    try:
        sizes = [
            measure(options.rows, options.repeat, folder),
            measure(options.rows * 4, options.repeat, folder),
        ]
        if options.large_rows:
            sizes.append(measure(options.large_rows, 1, folder))
    except BaseException:
        sql(f"DROP DATABASE IF EXISTS {DATABASE}")
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if not options.keep:
        sql(f"DROP DATABASE IF EXISTS {DATABASE}")
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
        "cpu ratio",
    )
    widths = (9, 8, 11, 8, 11, 8, 8, 12, 11, 10)
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, widths, strict=True)))
    for r in sizes:
        print(
            f"{r['rows']:>9} {r['raw_mb']:>8.1f} {r['base_s']:>11.2f} {r['ours_s']:>8.2f}"
            f" {r['ratio']:>10.2f}x {r['base_mb']:>8.1f} {r['ours_mb']:>8.1f} {r['peak_mb']:>12.1f}"
            f" {r['ours_total_s']:>11.2f} {r['cpu_ratio']:>9.2f}x"
        )
    peaks = [r["peak_mb"] for r in sizes]
    rss_ratio = max(peaks) / min(peaks)
    worst = min(r["ratio"] for r in sizes)
    print()
    print(f"throughput ours / (mariadb-dump | zstd): {worst:.2f} (worst of the sizes; target >= 0.85)")
    print(f"peak RSS largest / smallest across {len(sizes)} sizes: {rss_ratio:.2f} (target <= 1.20)")
    print("cpu ratio: CPU seconds of mariadb-dump + zstd / of backup_run's own threads + its mariadb-dump")
    print("(the part a loaded machine does not change; the server's own CPU is not counted)")
    ok = worst >= 0.85 and rss_ratio <= 1.20
    print("PASS" if ok else "BELOW TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
