"""Runs the benchmarks and writes docs/BENCHMARKS.md from what they printed.

    make bench        # every benchmark; or: .venv/bin/python -m bench.run_all [--only health,queue]
    make soak         # the 10-minute soak (not part of `make bench`): --only soak

Each benchmark measures this project and its baseline side by side in the same run and prints
its own table (figures, baseline, ratio, target). This runner adds nothing to the numbers: it
records the machine, the time and the command, and copies each benchmark's output verbatim, so
the file can only hold figures a real run printed. A benchmark that misses its target, or
fails, is recorded as such and the others still run. Sections of benchmarks not run this time
are kept from the file as it was, each with the date of the run that printed it.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / "docs" / "BENCHMARKS.md"
# name: (what it compares, target as its script states it)
BENCHES = {
    "health": (
        "/health (cached, and HEALTH_CACHE_SECONDS=0) vs django-health-check 4.x: throughput,"
        " p50/p99; black-hole latency with the default check list, anonymous and token callers",
        ">= 2x throughput and lower p99 on both rows; black hole: 503 within HEALTH_TIMEOUT + 0.5 s",
    ),
    "queue": ("tasks/s through the retry policy vs a plain Celery task, same Redis", "ratio >= 0.95"),
    "webhook": ("signed Mailgun webhooks/s and p99, full path vs a bare Anymail receiver", "ratio >= 0.5"),
    "realtime": (
        "broadcast delivery p50/p99 and msgs/s to 100 and 1,000 clients vs raw group_send",
        "ratio <= 1.25",
    ),
    "growth": (
        "operator pages, ops API lists (first and deep page), /metrics, ops_report and nightly jobs"
        " at 1M mail events / 100k failed jobs / 50k tickets vs 1% of that",
        "p99 < 300 ms and within 2x of 1%; ops_report < 2 s; no statement of a nightly job > 1 s",
    ),
    "restore": (
        "backup_restore of a 600k-row archive into an empty database vs age -d | zstd -d | mariadb;"
        " each restore step's time",
        "throughput >= 0.9x the pipe",
    ),
    "backup": (
        "backup throughput vs mariadb-dump | zstd; peak RSS at two database sizes",
        ">= 0.85; RSS flat within 20%",
    ),
}
# Run only when asked for by name (`make soak`): long, and a stability check, not a ratio.
ON_REQUEST = {
    "soak": (
        "10 minutes of steady API, task, webhook and websocket load on the whole stack",
        "memory of every process flat (fitted growth < 5% and < 10 MB); nothing lost",
    ),
}
TIMEOUT = 20 * 60
# What issue 23 asked for that these benchmarks do not show met yet: written after the sections.
OPEN = [
    "## open targets (issue 23)",
    "",
    "Written 2026-12-03 from the runs above, on the loaded machine (its 1% rows vary 2-5x between",
    "runs: rerun on a quiet one before reading a 2x ratio as a regression).",
    "",
    "- growth: every page and endpoint under 300 ms p99 at full data since cursor pages (failed",
    "  jobs, mail events, alerts, audit: no `COUNT(*)`, keys first), the kept mail counters behind",
    "  `/metrics` and batched history compaction; the 2x ratio is at the mercy of the machine's",
    "  load between the 1% and the full run (15 samples: p99 is the slowest one; in the 18:45 run",
    "  `/api/ops/alerts/` missed it by one 238 ms sample, p50 16 ms). The dashboard's and overview's",
    "  queue history grows with the number of queues (1 in the 1% data, 10 in the full).",
    "  `queue_failed --json` streams all 100k failed jobs (no target; bounded memory).",
    "- restore: met in this run (1.01x); single runs gave 0.70x and 0.87x under heavier load, the",
    "  load step being the gap. Peak RSS flat (1.00x) from 600k to 6M rows. Point-in-time replay",
    "  against `mariadb-binlog | mariadb` is not measured yet.",
    "- 10,000 websockets on one realtime process and soketi's 500+500 scenario: not built yet.",
]


def machine() -> list[str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"- CPU: {cpu}, {os.cpu_count()} cores; memory {memory:.1f} GiB",
        f"- OS: {platform.platform()}; Python {platform.python_version()}",
        f"- load average when the run started: {load}",
    ]


def previous_sections() -> dict[str, list[str]]:
    """The sections of the file as it is, by benchmark name (its `## name` heading)."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    try:
        text = OUTPUT.read_text()
    except OSError:
        return sections
    for line in text.splitlines():
        if line.startswith("## "):
            current = sections.setdefault(line[3:].strip(), [])
        if current is not None:
            current.append(line)
    for body in sections.values():
        while body and not body[-1].strip():
            body.pop()
    return sections


def run(name: str) -> tuple[int, str, float]:
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", f"bench.{name}"], cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT
        )
        code, text = (
            done.returncode,
            done.stdout + (f"\n[stderr]\n{done.stderr[-3000:]}" if done.returncode else ""),
        )
    except subprocess.TimeoutExpired as exc:
        code, text = 124, f"{exc.stdout or ''}\n(timed out after {TIMEOUT} s)"
    return code, text.strip(), time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated benchmark names (default: all)")
    args = parser.parse_args()
    known = {**BENCHES, **ON_REQUEST}
    names = list(BENCHES) if not args.only else [n.strip() for n in args.only.split(",")]
    unknown = [n for n in names if n not in known]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(known)}", file=sys.stderr)
        return 2
    sections = previous_sections()
    failures = 0
    for name in names:
        what, target = known[name]
        print(f"== bench.{name}: {what}", flush=True)
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        code, text, took = run(name)
        print(text, flush=True)
        verdict = "met" if code == 0 else "NOT met" if code == 1 else f"did not finish (exit {code})"
        failures += code != 0
        sections[name] = [
            f"## {name}",
            "",
            f"{what}. Target: {target} — **{verdict}** ({took:.0f} s, `python -m bench.{name}`, "
            f"run {datetime.now(UTC):%Y-%m-%d %H:%M UTC}, load average {load} at its start).",
            "",
            "```",
            text,
            "```",
        ]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` and `make soak` (`python -m bench.run_all`); do not edit by hand.",
        "Each section is the benchmark's own output, copied verbatim: it measures this project and",
        "its baseline in the same run on the same machine, and says when it ran.",
        "Measured on a loaded machine: 2 cores shared with other engineers' test runs. Ratios",
        "against a baseline run in the same run are what to read; absolute figures are noisy.",
        "",
        f"Last written at {datetime.now(UTC):%Y-%m-%d %H:%M UTC} on:",
        "",
        *machine(),
    ]
    for name in known:
        if name in sections:
            lines += ["", *sections[name]]
    lines += ["", *OPEN]
    OUTPUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUTPUT.relative_to(REPO)}; {len(names) - failures}/{len(names)} targets met")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
