"""Benchmark: what the operator pages, API lists, commands and nightly jobs cost as data grows.

    make bench ONLY=growth       # or: .venv/bin/python -m bench.growth [--scale 1] [--samples 15]

Two MariaDB databases on this machine, one with the full data (1,000,000 MailEvents, 100,000
FailedJobs, 50,000 tickets, 24 h of ops history) and one with 1% of it, are made once with
bulk inserts and kept between runs (bench/growth_data.py). For each, a process of its own
(bench/growth_measure.py) times in-process requests (Django's test client: the server's own
time, no network) to the admin dashboard, each ops API list endpoint (first page and a page
halfway in), /metrics, `ops_report`, `queue_failed --json`, and one run of the nightly cleanup,
mail retention and history compaction jobs. Prints p50/p99 for both sizes side by side.

Targets: every page and endpoint within 2x of its 1% time and under 300 ms p99; ops_report
under 2 s; each nightly job's longest statement (how long it may hold a table's locks) under
1 s. `queue_failed --json` prints every failed job, so it grows with the data: reported, no
target. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from urllib.parse import urlsplit

from bench.health import ensure_database
from tests.support.processes import PYTHON, REPO

SERVER = os.environ.get("BENCH_GROWTH_SERVER", "mysql://root@127.0.0.1:3306")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")
PAGE_P99_MS = 300.0
GROWTH = 2.0
REPORT_MS = 2000.0
LOCK_MS = 1000.0
NO_TARGET = {"queue_failed --json"}


def measure(name: str, scale: float, samples: int) -> dict:
    url = f"{SERVER}/{name}"
    ensure_database(url)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "opsproject.settings",
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "PYTHONWARNINGS": "ignore::UserWarning",  # no collected static files here: not the point
        "VAR_DIR": str(REPO / "var" / "bench-growth"),
    }
    argv = [str(PYTHON), "-m", "bench.growth_measure", "--scale", str(scale), "--samples", str(samples)]
    done = subprocess.run(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"bench.growth_measure --scale {scale} failed ({done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def verdict(name: str, small: dict, large: dict) -> str:
    if name in NO_TARGET:
        return "no target"
    if "longest_statement" in large:
        return "ok" if large["longest_statement"] < LOCK_MS else f"MISSED: a statement held {LOCK_MS:g} ms+"
    if name == "ops_report":
        return "ok" if large["p99"] < REPORT_MS else f"MISSED: over {REPORT_MS:g} ms"
    missed = []
    if large["p99"] >= PAGE_P99_MS:
        missed.append(f"p99 over {PAGE_P99_MS:g} ms")
    if large["p99"] > GROWTH * max(small["p99"], 1.0):
        missed.append(f"over {GROWTH:g}x its 1% time")
    return "MISSED: " + ", ".join(missed) if missed else "ok"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="the large data's scale (1 = full)")
    parser.add_argument("--samples", type=int, default=15, help="timed requests per page and size")
    args = parser.parse_args()

    small = measure("ops_bench_growth_small", args.scale / 100, args.samples)
    large = measure("ops_bench_growth_large", args.scale, args.samples)
    host = urlsplit(SERVER).hostname
    print(f"\ngrowth benchmark: MariaDB on {host}, in-process requests (Django test client), measured")
    print("on a loaded machine shared with other engineers' test runs")
    for label, run in (("1%", small), ("full", large)):
        rows = ", ".join(f"{count} {name}" for name, count in run["rows"].items())
        print(f"  {label:>4}: {rows} (made or topped up in {run['seconds_to_make']:.0f} s)")
    print(
        f"\n{'target':<44}{'1% p50':>9}{'1% p99':>9}{'full p50':>10}{'full p99':>10}"
        f"{'x':>7}{'queries':>9}  verdict"
    )
    failed = False
    for name, figure in large["figures"].items():
        base = small["figures"][name]
        ratio = figure["p99"] / max(base["p99"], 0.001)
        outcome = verdict(name, base, figure)
        failed |= outcome.startswith("MISSED")
        extra = (
            f" (longest statement {figure['longest_statement']:.0f} ms)"
            if "longest_statement" in figure
            else ""
        )
        print(
            f"{name:<44}{base['p50']:>9.1f}{base['p99']:>9.1f}{figure['p50']:>10.1f}{figure['p99']:>10.1f}"
            f"{ratio:>6.1f}x{figure['queries']:>9}  {outcome}{extra}"
        )
    print(f"\ntargets: pages and endpoints p99 < {PAGE_P99_MS:g} ms and within {GROWTH:g}x of 1%;")
    print(f"ops_report < {REPORT_MS:g} ms; nightly jobs' longest statement < {LOCK_MS:g} ms:", end=" ")
    print("NOT all met" if failed else "met")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
