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
# add up to 29 minutes (TOTAL_BUDGET less a minute for `make`'s own steps: services, pip), what
# `make bench` may take on this 2-core machine under load: each is also the bench's timeout, so
# one that overruns is cut and recorded as not finished instead of stretching the run. A bench
# added here takes its budget from another's or sizes itself down (ARGS).
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
        120,
    ),
    "realtime": (
        "broadcast delivery p50/p99 and msgs/s to 100 and 1,000 clients vs raw group_send",
        "ratio <= 1.25",
        170,
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
        330,
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
# Measured in two full runs on 2026-12-04 at load 4-9 (seconds, first run / second): health
# 69 / 71, queue 68 (3 x 100) / 119 (3 x 300), webhook 73 / 72, realtime 135 / 129, ws_scale
# 164 / 161, growth 282 (making its 1M-row data) / 87, backup 56 / 172, restore 80 (one run per
# side) / 230, pitr 23 / 63: 16 and 18.5 min in all. The budgets leave about 20% over the slower.
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
# With --only (a rerun of some, or growth's first run that makes its databases) no budget cuts.
ALONE = 40 * 60
assert sum(b for _w, _t, b in BENCHES.values()) <= TOTAL_BUDGET - 60, "the budgets add up to over 29 min"
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
    "- restore (RTO), NOT met: 0.69x the pipe at 600k rows (126 MB of SQL: 21.4 s against 14.7 s,",
    "  one run per side at load average 12-15), 0.21 under the target. The client side is not the",
    "  cost: its CPU is 1.5 s against the pipe's 1.2 s of a 15-21 s restore; both wait on the same",
    "  loaded server, and pairs of runs at this load spread 0.63-1.04 (best of two this morning:",
    "  1.01x). A cause to test on a quiet machine: our one thread feeds the client's 64 KiB pipe",
    "  where the stock pipe has three buffered stages. The live restore, step by step: verify 0.6 s,",
    "  maintenance on, pause workers 3.2 s (the control broadcast's reply window; no worker ran),",
    "  load 23.7 s, row counts 0.5 s, migrate 0.5 s, caches, records, resume, maintenance off",
    "  (0.1 s together), health 0.3 s, smoke login 1.6 s: 30.6 s in all. Peak RSS flat, met:",
    "  93.4 MB at 126 MB of SQL, 93.5 MB at 1,020 MB (1.00x).",
    "- pitr, met: one simulated hour of binlogs (26 MB, about 9,000 transactions) replays at 1.06x",
    "  `mariadb-binlog | mariadb` (38.7 s verify + replay against 40.8 s); the whole restore 1.10x;",
    "  both targets equal the source table by table.",
    "- backup, throughput NOT met at load 19: 0.38x, 0.70x, 0.67x at 31, 126 and 1,020 MB of SQL",
    "  (target 0.85), while its CPU ratio is 0.94-1.14x: it spends no more CPU than mariadb-dump |",
    "  zstd, the wall time goes to waiting for a core (quiet run of 2026-11-29: 1.00-1.13x). Peak",
    "  RSS flat, met: 96.8-104.0 MB from 31 MB to 1,020 MB of SQL (1.07x).",
    "- `make bench` time: the budgets in bench/run_all.py add up to 27.7 min, with 140 s kept for the",
    "  10,000-websocket bench. Measured: health 102 s, webhook about 300 s, realtime 40 s (quiet),",
    "  growth 384 s, backup 199 s, restore 315 s (one run per side), pitr 157 s. queue's default",
    "  (7 rounds of 400 tasks, both brokers) took 26 min at load 10-20 and 5 rounds of 200 took",
    "  4.5 min at load 11: `make bench` runs 3 rounds of 100 (thin: its ratios are noisier). webhook",
    "  (270 s) and growth (360 s) must trim 10-30 s each to stay inside their budgets at that load.",
    "- ws_scale, missed: 10,000 clients connect and subscribe (public, private, presence; real",
    "  signatures; the per-address limit kept) with none refused and no broadcast lost, but at",
    "  ~32 KB per connection (target 20) and with broadcast latencies in seconds (targets 500 ms,",
    "  and 20 ms for soketi's scenario). Fixed on the way: permessage-deflate off (a compressor",
    "  per socket, ~45 KB more), no session/user middleware on websockets (~4 KB and two thread",
    "  hops), presence refresh in one round trip (per-entry round trips missed the layer check's",
    "  deadline and stalled deliveries), Redis pools that wait instead of failing subscribes.",
    "  Left (tracemalloc, per connection): uvicorn's protocol and the handshake's headers ~14 KB,",
    "  Channels' consumer machinery ~5 KB, the hub's Connection and its writer task ~2 KB; under",
    "  20 KB needs a plain ASGI consumer without a task per socket. Latency: the server spends",
    "  130-160 us of CPU per delivery on this loaded machine (task wake-up, Channels' send,",
    "  uvicorn's frame, one send() per socket): 10,000 recipients are 1.3-1.6 s of one core, so",
    "  one Python process cannot meet 500 ms; spread clients over several realtime processes",
    "  (every broadcast already reaches every live server). Presence storms (3,333 joins or",
    "  leaves at once) overflow the server's own layer channel (REALTIME_CHANNEL_CAPACITY):",
    "  member_added/removed frames dropped, counted as layer_over_capacity.",
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
        *machine(),
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
