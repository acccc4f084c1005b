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
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / "docs" / "BENCHMARKS.md"
# name: (what it compares, target as its script states it, time budget in seconds). The budgets
# add up to at most 29 minutes (TOTAL_BUDGET less a minute for `make`'s own steps: services,
# pip), what `make bench` may take on this 2-core machine under load: each is also the bench's
# timeout, so one that overruns is cut and recorded as not finished instead of stretching the
# run. A bench added here takes its budget from another's or sizes itself down (ARGS).
BENCHES = {
    "health": (
        "/health (cached, and HEALTH_CACHE_SECONDS=0) vs django-health-check 4.x: throughput,"
        " p50/p99; black-hole latency with the default check list, anonymous and token callers",
        ">= 2x throughput and lower p99 on both rows; black hole: 503 within HEALTH_TIMEOUT + 0.5 s",
        90,
    ),
    "queue": ("tasks/s through the retry policy vs a plain Celery task, same Redis", "ratio >= 0.95", 150),
    "webhook": (
        "signed Mailgun webhooks/s and p99, full path vs a bare Anymail receiver",
        "ratio >= 0.5",
        100,
    ),
    "realtime": (
        "broadcast delivery p50/p99 and msgs/s to 100 and 1,000 clients vs raw group_send",
        "ratio <= 1.25",
        160,
    ),
    "ws_scale": (
        "10,000 Pusher websockets (public, private and presence channels) on one realtime process:"
        " connect rate, RSS per connection, broadcast delivery p50/p99 and losses; soketi's scenario"
        " (500 steady + 500 churning clients, one message a second) beside soketi's published 6 ms",
        "<= 20 KB per connection, broadcast-to-all p99 <= 500 ms, none lost; soketi scenario p99 <= 20 ms",
        200,
    ),
    "growth": (
        "operator pages, ops API lists (first and deep page), /metrics, ops_report and nightly jobs"
        " at 1M mail events / 100k failed jobs / 50k tickets vs 1% of that",
        "p99 < 300 ms and within 2x of 1%; ops_report < 2 s; no statement of a nightly job > 1 s",
        390,
    ),
    "backup": (
        "backup throughput vs mariadb-dump | zstd; peak RSS at three database sizes, up to about 1 GB of SQL",
        ">= 0.85; RSS flat within 20%",
        210,
    ),
    "restore": (
        "backup_restore of a 600k-row archive into an empty database vs age -d | zstd -d | mariadb;"
        " each step of a live restore (the RTO: verify ... health, smoke login); peak RSS at 600k"
        " rows and at about 1 GB of SQL",
        "throughput >= 0.9x the pipe; live restore passes; RSS flat within 20%",
        280,
    ),
    "pitr": (
        "backup_restore --until over one simulated hour of shipped binlogs vs mariadb-binlog | mariadb"
        " on the same files; each step's time",
        "replay throughput >= 0.9x the pipe; both restores equal the source",
        130,
    ),
}
# Run only when asked for by name (`make soak`): long, and a stability check, not a ratio.
ON_REQUEST = {
    "soak": (
        "10 minutes of steady API, task, webhook and websocket load on the whole stack",
        "memory of every process flat (fitted growth < 5% and < 10 MB); nothing lost",
        900,
    ),
}
# Arguments `make bench` passes, where they differ from each bench's default (what it runs
# alone). The queue bench does 3 rounds of 300 tasks (its default, 7 of 400 on both brokers,
# took 26 min at load 10-20; 100-task rounds are too short for its CPU ratio, read in 10 ms
# ticks); health 6 s of load per row and round instead of 8; webhook 1,000 posts a round
# instead of 1,500 (4 rounds took 247-300 s at load 15); ws_scale 3 broadcast rounds instead of
# 5 and 30 s of soketi's scenario instead of 45 (its 10,000 clients stay: they are the target).
# Measured in three full runs on 2026-12-04 at load 4-11 (seconds; first / second / third run):
# health 69 / 71 / 68, queue 68 (3 x 100) / 119 / 70, webhook 73 / 72 / 38, realtime 135 / 129 /
# 73, ws_scale 164 / 161 / 124, growth 282 / 87 / 323 (the first and third making its 1M-row
# data), backup 56 / 172 / 151, restore 80 (one run per side) / 230 / 223, pitr 23 / 63 / 98:
# 16, 18.5 and 19.5 min in all. Each budget is 19-37% over the slowest of the three.
ARGS = {
    "health": ["--seconds", "6"],
    "queue": ["--tasks", "300", "--rounds", "3"],
    "webhook": ["--requests", "1000"],
    "ws_scale": ["--rounds", "3", "--soketi-seconds", "30"],
}


def arguments(name: str, names: list[str]) -> list[str]:
    # backup leaves its ~1 GB database for a restore run after it, which reuses and drops it.
    keep = name == "backup" and "restore" in names[names.index(name) :]
    return [*ARGS.get(name, []), *(["--keep"] if keep else [])]


TOTAL_BUDGET = 30 * 60
# With --only (a rerun of some) no budget cuts.
ALONE = 40 * 60
assert sum(b for _w, _t, b in BENCHES.values()) <= TOTAL_BUDGET - 60, "the budgets add up to over 29 min"
# What issue 23 asked for that these benchmarks do not show met yet: written after the sections.
OPEN = [
    "## open targets (issue 23)",
    "",
    "Written 2026-12-04 22:00 UTC from a full `make bench` at 21:46 UTC on a quiet machine (load 0.3",
    "at its start, under 3 during it; 418 s wall, growth's databases already made), the sections",
    "above, plus `ONLY=queue` (bench/queue.py's own settings fixed: it read the project's settings",
    "before pointing them at its services) and reruns named below. Earlier full runs (2026-12-04,",
    "load 4-11) took 15.9-19.5 min: the budgets, 28.5 min in all, are from those.",
    "",
    "- webhook, at the floor: 0.52 (rounds 0.49 0.53 0.52 0.52) in `ONLY=webhook,queue` at 00:16",
    "  UTC on 2026-12-05, quiet; 0.45 in the full run above, and 0.54, 0.53, 0.31 in other quiet",
    "  runs of the same code. CPU per event: bare 1.51 ms, full 3.99 ms (web 2.05 + worker 1.94), so",
    "  the cores do 2.6x the work per stored event, and the throughput ratio follows it. The web",
    "  alone (until the last answer) reaches 0.63. The worker's per-task costs, from py-spy: the",
    "  INSERT, three Redis round trips (the attempt counter, the mail-event counter, the task-outcome",
    "  counters), and the prefork pool's and the broker's per-message work. Done: workers keep their",
    "  database connection between tasks (CELERY_DB_REUSE_MAX; it was a new MariaDB connection per",
    "  task, 2.14 -> 1.64 ms of worker CPU in one pair of runs) and the outcome counters are one round",
    "  trip instead of two. What is left is Celery's own per-task machinery and one confirmed",
    "  RabbitMQ publish per event on a quorum queue, which a lossless webhook keeps.",
    "- ws_scale, partly met: broadcast-to-all p99 465 ms (target 500), none lost, no subscribe",
    "  refused; NOT met: 28.5 KB per connection (target 20) and soketi's scenario p99 50.9 ms (target",
    "  20; soketi publishes 6 ms). The consumer is now a plain ASGI application (Channels'",
    "  AsyncConsumer hopped to a thread before every client message to close database connections,",
    "  35% of the server's samples), servers run uvicorn's websockets-sansio protocol (23.5 KB of",
    "  traced heap per connection against 31.6 KB for the legacy one), and the channel layer's pool",
    '  waits instead of refusing (redis-py raised "Too many connections" past 100 commands in',
    "  flight). What remains per connection is uvicorn's and the websockets library's (an",
    "  asyncio.Queue ~3.3 KB, the handshake's headers ~3 KB, an Event, a ping timer, the scope and",
    "  the ASGI task); the realtime code's own objects are 1-2 KB. Latency is one event loop",
    "  writing frames one after another: 76 us per delivery, 0.76 s of CPU for a broadcast to",
    "  10,000; soketi runs on uWebSockets.js (C++ under Node.js). At teardown (10,000 disconnects at",
    "  once) the server logged one layer_over_capacity drop and 2 presence leaves that failed on a",
    "  Redis timeout; those members expire with the presence refresh.",
    "- backup, NOT met: 0.81x at 126 MB of SQL (0.97x at 31 MB, 0.91x at 1,020 MB), against 0.85;",
    "  1.06 against 0.86 s, while using less CPU than mariadb-dump | zstd (cpu ratio 1.09). Our",
    "  threads wait on mariadb-dump; the difference is fixed work the pipe has not (the tool's",
    "  version, the snapshot connection and the manifest's row counts beside the dump). Peak RSS",
    "  flat, met (1.07x).",
    "- queue, NOT met in `make bench` (3 x 300 tasks): worst 0.860 in the full run (redis results",
    "  stored), 0.818 at 00:16 UTC (RabbitMQ ignore_result, plain rounds 905, 924, 754 tasks/s; the",
    "  three other settings 0.971-0.992). The default run alone (7 x 400, both brokers, quiet):",
    "  0.913, 1.011, 1.051 and 0.863 (RabbitMQ ignore_result, rounds of one kind spreading 530-953",
    "  tasks/s). The policy adds the attempt counter (one pipelined INCR+EXPIRE to Redis per",
    "  delivery, 53-83 us of CPU) to a task of 0.8-3.3 ms: 0.97 against 0.80 ms at RabbitMQ's",
    "  fastest, where one Redis round trip is the largest share.",
    "- soak (`make soak`, not part of `make bench`): met at 23:40 UTC (12,056 tasks and webhook",
    "  events, 1,206 broadcasts to all 20 clients, none lost; workers 13-14 MB/h, +1.8 MB, flat).",
    "  Two runs at 22:00 and 22:40 had each worker grow 132-137 MB/h: each broadcast sent from a",
    "  worker (sync code, a new event loop per call) kept an async Redis client, its pool and socket",
    "  (keyvalue's per-loop cache). Ended loops' clients are now dropped.",
    "- Met: health (47.4x the throughput cached, 9.4x with HEALTH_CACHE_SECONDS=0; the black hole",
    "  answered 503 in 2.02 s), realtime, growth (every page and endpoint under 300 ms p99 and within",
    "  2x of 1%, measured in turn round by round: the largest paired ratio /metrics' 1.7x, an exact",
    "  count of 100,000 failed jobs; the overview's mail panel now reads its index alone), restore",
    "  (0.99x the pipe; RSS 92.4 -> 92.2 MB from 126 MB to 1 GB of SQL; the live restore's steps,",
    "  smoke login included, 8.7 s) and pitr (1.02).",
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


def run(name: str, argv: list[str], timeout: int) -> tuple[int, str, float]:
    started = time.monotonic()
    bench = subprocess.Popen(
        [sys.executable, "-m", f"bench.{name}", *argv],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = bench.communicate(timeout=timeout)
        code = bench.returncode
        text = out + (f"\n[stderr]\n{err[-3000:]}" if code and err.strip() else "")
    except subprocess.TimeoutExpired:
        # Ctrl-C, not a kill: its finally blocks stop the servers and drop the databases it made.
        bench.send_signal(signal.SIGINT)
        try:
            out, _err = bench.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            bench.kill()
            out, _err = bench.communicate()
        code, text = 124, f"{out}\n(cut after {timeout} s)"
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
    host = machine()  # its load average is the one at the run's start
    failures, total = 0, 0.0
    for name in names:
        what, target, budget = known[name]
        print(f"== bench.{name}: {what}", flush=True)
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        argv = arguments(name, names)
        started = datetime.now(UTC)
        code, text, took = run(name, argv, budget if not args.only else ALONE)
        print(text, flush=True)
        verdict = "met" if code == 0 else "NOT met" if code == 1 else f"did not finish (exit {code})"
        failures += code != 0
        total += took
        command = " ".join(["python -m", f"bench.{name}", *argv])
        sections[name] = [
            f"## {name}",
            "",
            f"{what}. Target: {target} — **{verdict}** ({took:.0f} s of its {budget} s budget, `{command}`, "
            f"run {started:%Y-%m-%d %H:%M UTC}, load average {load} at its start).",
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
        f"Last written at {datetime.now(UTC):%Y-%m-%d %H:%M UTC} by a run of {', '.join(names)} that took"
        f" {total / 60:.1f} min (`make bench` runs every section within {TOTAL_BUDGET // 60} min: each has a"
        " time budget, in bench/run_all.py, and its own run time in its heading) on:",
        "",
        *host,
    ]
    for name in known:
        if name in sections:
            lines += ["", *sections[name]]
    lines += ["", *OPEN]
    OUTPUT.write_text("\n".join(lines) + "\n")
    print(
        f"wrote {OUTPUT.relative_to(REPO)}; {len(names) - failures}/{len(names)} targets met; {total:.0f} s"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
