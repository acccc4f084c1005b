"""Benchmark: what the operator pages, API lists, commands and nightly jobs cost as data grows.

    make bench ONLY=growth       # or: .venv/bin/python -m bench.growth [--scale 1] [--samples 15]

Two MariaDB databases on this machine, one with the full data (1,000,000 MailEvents, 100,000
FailedJobs, 50,000 tickets, 24 h of ops history) and one with 1% of it, are made once with
bulk inserts and kept between runs (bench/growth_data.py). For each, a process of its own
(bench/growth_measure.py, both running at once) times in-process requests (Django's test
client: the server's own time, no network) to the admin dashboard, each ops API list endpoint
(first page and a page deep in), /metrics, `ops_report`, `queue_failed --json`, and one run of
the nightly cleanup, mail retention and history compaction jobs. The two sizes are timed in
turn, target by target and round by round (which goes first alternating), so both see the same
state of a shared machine: a load that rises during the run no longer lands on the full data
only. Prints p50/p99 for both sizes side by side, and the median of the rounds' ratios.

Targets: every page and endpoint within 2x of its 1% time and under 300 ms p99; ops_report
under 2 s; each nightly job's longest statement (how long it may hold a table's locks) under
1 s. `queue_failed --json` prints every failed job, so it grows with the data: reported, no
target. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
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


class Measurer:
    """A bench.growth_measure process serving one data size: made, then asked target by target."""

    def __init__(self, name: str, scale: float):
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
        self.scale = scale
        argv = [str(PYTHON), "-m", "bench.growth_measure", "--scale", str(scale)]
        self.process = subprocess.Popen(
            argv, cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def answer(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"bench.growth_measure --scale {self.scale} failed ({self.process.wait()})")
        return json.loads(line)

    def ask(self, **request) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self.answer()

    def close(self, failed: bool = False) -> None:
        """Ask it to quit; when the other one failed, stop it (it may still be making data)."""
        if self.process.poll() is None:
            if failed:
                self.process.terminate()
            else:
                self.process.stdin.write(json.dumps({"do": "quit"}) + "\n")
                self.process.stdin.close()
        self.process.wait()


def percentiles(times: list[float]) -> dict:
    times = sorted(times)
    return {
        "p50": statistics.median(times),
        "p99": times[min(len(times) - 1, math.ceil(len(times) * 0.99) - 1)],
    }


def interleaved(small: Measurer, large: Measurer, names: list[str], samples: int) -> tuple[dict, dict]:
    """Each target timed on both sizes in turn: one warm-up each, then `samples` rounds, the
    size that goes first alternating, so a change in the machine's load falls on both alike."""
    rounds = {name: samples for name in names}
    rounds["ops_report"] = max(3, samples // 5)
    # Every failed job, so half a minute at full data on a loaded machine: once, no warm-up.
    rounds["queue_failed --json"] = 1
    times: dict = {name: ([], []) for name in names}
    queries: dict = {}
    for name in names:
        if rounds[name] > 1:
            small.ask(do="time", target=name)
            large.ask(do="time", target=name)
    for turn in range(max(rounds.values())):
        for index, name in enumerate(names):
            if turn >= rounds[name]:
                continue
            pair = (small, large) if (turn + index) % 2 == 0 else (large, small)
            for measurer in pair:
                figure = measurer.ask(do="time", target=name)
                times[name][measurer is large].append(figure["ms"])
                queries[name, measurer is large] = figure["queries"]
    figures = ({}, {})
    for name, (small_times, large_times) in times.items():
        ratios = [b / max(a, 0.001) for a, b in zip(small_times, large_times, strict=True)]
        for side, measured in enumerate((small_times, large_times)):
            figures[side][name] = {
                **percentiles(measured),
                "queries": queries[name, bool(side)],
                "paired": statistics.median(ratios),
            }
    return figures


def measure(scale: float, samples: int) -> tuple[dict, dict]:
    """Both sizes made at the same time, their nightly jobs run (the small first), then timed."""
    small = Measurer("ops_bench_growth_small", scale / 100)
    large = Measurer("ops_bench_growth_large", scale)
    try:
        runs = (small.answer(), large.answer())
        jobs = (small.ask(do="jobs"), large.ask(do="jobs"))
        figures = interleaved(small, large, jobs[1]["targets"], samples)
    except BaseException:
        small.close(failed=True)
        large.close(failed=True)
        raise
    small.close()
    large.close()
    for run, job, figure in zip(runs, jobs, figures, strict=True):
        run["figures"] = {**figure, **job["jobs"]}
    return runs


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

    small, large = measure(args.scale, args.samples)
    host = urlsplit(SERVER).hostname
    print(f"\ngrowth benchmark: MariaDB on {host}, in-process requests (Django test client), measured")
    print("on a loaded machine shared with other engineers' test runs")
    for label, run in (("1%", small), ("full", large)):
        rows = ", ".join(f"{count} {name}" for name, count in run["rows"].items())
        print(f"  {label:>4}: {rows} (made or topped up in {run['seconds_to_make']:.0f} s)")
    print(
        f"\n{'target':<44}{'1% p50':>9}{'1% p99':>9}{'full p50':>10}{'full p99':>10}"
        f"{'x':>7}{'paired':>8}{'queries':>9}  verdict"
    )
    failed = False
    for name, figure in large["figures"].items():
        base = small["figures"][name]
        ratio = figure["p99"] / max(base["p99"], 0.001)
        outcome = verdict(name, base, figure)
        paired = f"{figure['paired']:.1f}x" if "paired" in figure else "-"
        failed |= outcome.startswith("MISSED")
        extra = (
            f" (longest statement {figure['longest_statement']:.0f} ms)"
            if "longest_statement" in figure
            else ""
        )
        print(
            f"{name:<44}{base['p50']:>9.1f}{base['p99']:>9.1f}{figure['p50']:>10.1f}{figure['p99']:>10.1f}"
            f"{ratio:>6.1f}x{paired:>8}{figure['queries']:>9}  {outcome}{extra}"
        )
    print("\nx: full p99 / 1% p99; paired: the median of each round's full / 1% time (the two sizes")
    print("are timed in turn, round by round, the one going first alternating)")
    print(f"targets: pages and endpoints p99 < {PAGE_P99_MS:g} ms and within {GROWTH:g}x of 1%;")
    print(f"ops_report < {REPORT_MS:g} ms; nightly jobs' longest statement < {LOCK_MS:g} ms:", end=" ")
    print("NOT all met" if failed else "met")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
