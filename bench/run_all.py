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
# With --only (a rerun of some) no budget cuts.
ALONE = 40 * 60
assert sum(b for _w, _t, b in BENCHES.values()) <= TOTAL_BUDGET - 60, "the budgets add up to over 29 min"
# What issue 23 asked for that these benchmarks do not show met yet: written after the sections.
OPEN = [
    "## open targets (issue 23)",
    "",
    "Written 2026-12-04 from two full `make bench` runs on the shared 2-core machine (16:41 UTC,",
    "load average 6.7 at its start, 4-11 during it: 953 s wall; 17:01 UTC, load 3.8 at its start,",
    "6-9 during it: 1,108 s wall), `ONLY=backup` and `ONLY=pitr` after the second, and py-spy",
    "profiles (20-50 Hz). Each section above says which run printed it. At load 12-20 (2026-12-03)",
    "the same benches took 2-4x longer (restore 315 s, backup 199 s, pitr 157 s): then `make bench`",
    "can overrun its budgets and a cut bench is recorded as not finished.",
    "",
    "- `make bench` time: 15.9 min, then 18.5 min; the budgets add up to 28 min. The first run made",
    "  growth's 1M-row databases from nothing (no ops_bench_growth_* database): 223 s of growth's",
    "  282 s, within its budget (320 s then, 330 s now). Making them: bulk_create in batches of",
    "  5,000, a transaction each, by 6 forked processes (bench/growth_data.py). The cost is CPU, not",
    "  I/O: py-spy puts 50-65% of the making process in Django's SQLInsertCompiler (about 75 us of",
    "  Python per mail event, the server about 35 us more), so processes in parallel win a bigger",
    "  share of a loaded machine, not less work. Before: 152 s in one process at load 1-4, about 12",
    "  minutes at load 12; at a quarter of the size, paired at load 6-9: 65 and 77 s before, 62 and",
    "  56 s after.",
    "- webhook, NOT met: 0.17 (second run; first 0.19), 0.31-0.33 under 0.5. The machine is",
    "  CPU-bound, and CPU per event is bare 1.45 ms against full 6.27 ms (web 2.43 + worker 3.84):",
    "  bare/full 0.23, the ceiling of the throughput ratio. The web alone (until the last answer)",
    "  reaches 0.57-0.59: the storing worker is the cost. py-spy of the worker (first run, samples",
    "  on a core or waiting for one): ~22% opening a MySQL connection for every task (Celery 5.7's",
    "  Django fixup closes the connections before and after each task unless CELERY_DB_REUSE_MAX is",
    "  set), ~26% Redis round trips (the attempt counter 9%, the kept mail counters 17%), ~13% the",
    "  INSERT, ~20% the prefork pool's and the broker's traffic. In the web, the publish and its",
    "  RabbitMQ confirm are ~17% of the samples.",
    "- ws_scale, NOT met: 32.3 KB per connection (target 20: +62%); broadcast-to-all p99 1,448 ms",
    "  (first run 5,641 ms) against 500 ms; soketi's scenario p99 920 ms (first run 509 ms) against",
    "  20 ms; and 2 of 10,000 subscribes refused in both runs (the server logged `redis",
    "  MaxConnectionsError: Too many connections` during the connect storm). Why, latency: CPU. The",
    "  server spends 120 us per delivery, so one broadcast to 10,000 is 1.2 s of one core. py-spy of",
    "  the server (first run, whole run): 35% of its samples in Channels' `aclose_old_connections`",
    "  (AsyncConsumer.dispatch hops to a thread to close stale database connections before every",
    "  message a client sends: connect, subscribe, ping, disconnect), 16% writing frames, 11%",
    "  handshakes, 10% Redis. soketi's scenario needs about 0.4 of a core (about 90 sessions/s at",
    "  2.7 ms each, 1,000 deliveries/s at 120 us) on a machine whose load was 6-8. Memory",
    "  (tracemalloc, 2026-12-03): uvicorn's protocol and the handshake's headers ~14 KB, Channels'",
    "  consumer ~5 KB, the hub's Connection and writer task ~2 KB; under 20 KB needs a plain ASGI",
    "  consumer without a task per socket; under 500 ms, clients spread over several realtime",
    "  processes.",
    "- restore, NOT met: 0.82x the pipe (second run, best of 2: 16.2 s against 13.4 s at 600k rows,",
    "  126 MB of SQL), 0.87 in the first (one run a side), 0.92 when profiled at load 4: 0.03-0.08",
    "  under 0.9. Not our side's CPU: the client side spends 1.43 s against the pipe's 1.41 s, and",
    "  py-spy (with idle samples) finds the feeding thread blocked writing into the mariadb client's",
    "  stdin for most of the load step (29% of all samples in backups code, against ~3% decrypting,",
    "  decompressing and rewriting definers): both sides wait on the same server, and the runs of",
    "  one side spread as much as the gap (pipe 13.4-15.8 s, ours 16.2-18.0 s). The live restore",
    "  passes (22.6 s: load 16.0 s, pause workers 3.1 s, the broadcast's reply window, smoke login",
    "  1.6 s); peak RSS flat, met: 93.3 MB at 126 MB of SQL, 93.4 MB at 1,020 MB.",
    "- backup, met in `ONLY=backup` (0.89, 0.90, 1.07x at 31, 126 and 1,020 MB of SQL, load 4-6); in",
    "  the second full run at load 7-9, 1.10, 0.80 and 0.75x (cut at its former 120 s budget after",
    "  printing, 172 s: the budget is 210 s now) while spending less CPU than mariadb-dump | zstd",
    "  (cpu ratio 1.06-1.14). py-spy (idle samples too): our threads mostly wait on mariadb-dump",
    "  (the prefetcher reading its pipe 30%, the compressor waiting for it 25%, compressing and",
    "  encrypting 4%); the one cost the pipe has not is the manifest's row counts: a `SELECT",
    "  COUNT(*)` per table beside the dump, on the same loaded server (8% of the samples).",
    "- queue, NOT met: worst CPU ratio 0.645 in the second run (3 x 300 tasks; RabbitMQ",
    "  ignore_result: 1.33 ms a plain task, 2.07 ms a policy task) and 0.80 in the first (3 x 100),",
    "  against 0.95. The policy adds one pipelined INCR+EXPIRE to Redis per delivery (the attempt",
    "  counter, since 2026-12-03): measured alone, 53-83 us of CPU (225-618 us wall), 4-6% of a",
    "  1.3-1.5 ms plain task, so about 0.95 is what the policy itself costs; the rest is the load:",
    "  rounds of one kind swing 2-3x (policy 98, 97, 257 tasks/s). Last met on a quiet machine",
    "  before the counter (2026-11-29, 7 x 400: 0.97-1.00); rerun the default there.",
    "- growth, met in the first run (load 9-11, making its data; `/api/ops/alerts/` 10.7 ms p99,",
    "  0.3x its 1% time) and NOT met in the second (load 6-8): dashboard p99 313 ms and overview 334",
    "  ms (target 300: 4% and 11% over), audit 300.5 ms (its 1% p99 was 391 ms), failed jobs 2.1x",
    "  its 1% time (48.7 ms against 23.0). p99 of 15 samples is the slowest one; with the same data",
    "  the dashboard's and overview's p50 went from 91 and 79 ms to 204 and 198 ms between the two",
    "  runs: the machine's load, not the data.",
    "- pitr, met in the first run (0.94) and NOT in the second (0.74: verify and replay 8.1 s",
    "  against the pipe's 6.0 s, one run a side, load 7-8); 1.06 on 2026-12-03. A 6-8 s replay",
    "  measured once per side is at the mercy of the load; the section above is `ONLY=pitr`, run",
    "  after.",
    "- realtime, met in the second run; cut in the first at its former 60 s budget (it needed 135 s",
    "  at load 8, 40 s on a quiet machine; the budget is 170 s now).",
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
