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
    "Written 2026-12-04 from three full `make bench` runs on the shared 2-core machine, each from",
    "the Makefile target: 16:41 UTC (load 6.7 at its start, up to 11 during it; 953 s wall, making",
    "growth's databases), 17:01 UTC (load 3.8, then 6-9; 1,108 s) and 17:25 UTC (load 3.5, then",
    "4-10; 1,171 s wall, growth's databases made again from nothing): the sections above are the",
    "third. Figures in brackets are the first and second runs. py-spy profiles (20-50 Hz) were taken",
    "of the first run and of reruns. At load 12-20 (2026-12-03) the same benches took 2-4x longer",
    "(restore 315 s, backup 199 s, pitr 157 s): there `make bench` can overrun budgets, and a cut",
    "bench is recorded as not finished.",
    "",
    "- `make bench` time: 15.9, 18.5 and 19.5 min; the budgets in bench/run_all.py add up to 28.5",
    "  min, each 19-37% over the slowest of the three runs. Growth's 1M-row databases are made",
    "  within growth's budget: 256 s of its 323 s (223 s of 282 s). They are made with bulk_create",
    "  in batches of 5,000, a transaction each, by 6 forked processes (bench/growth_data.py). The",
    "  cost is CPU, not I/O: py-spy puts 50-65% of the making process in Django's SQLInsertCompiler",
    "  (about 75 us of Python a mail event, the server about 35 us more), so processes in parallel",
    "  win a bigger share of a loaded machine, not less work. Before: 152 s in one process at load",
    "  1-4, about 12 minutes at load 12; at a quarter of the size, paired at load 6-9: 65 and 77 s",
    "  before, 62 and 56 s after.",
    "- webhook, NOT met: 0.46 (0.19, 0.17), 0.04-0.33 under 0.5. CPU per event bare 2.20 ms, full",
    "  6.20 ms (web 2.85 + worker 3.35; before 5.83 and 6.27): bare/full 0.36 (0.24, 0.23), the",
    "  ceiling of the throughput ratio on a machine whose cores are busy, and the ratio falls with",
    "  the load. The web alone (until the last answer) reaches 0.57-0.65, met: the storing worker is",
    "  the cost. py-spy of the worker (first run, samples on a core or waiting for one): ~22%",
    "  opening a MySQL connection for every task (Celery 5.7's Django fixup closes the connections",
    "  before and after each task unless CELERY_DB_REUSE_MAX is set), ~26% Redis round trips (the",
    "  attempt counter 9%, the kept mail counters 17%), ~13% the INSERT, ~20% the prefork pool's and",
    "  the broker's traffic. In the web, the publish and its RabbitMQ confirm are ~17% of the",
    "  samples.",
    "- ws_scale, NOT met: 32.3 KB per connection in all three runs (target 20: +62%);",
    "  broadcast-to-all p99 1,005 ms (5,641, 1,448) against 500 ms; soketi's scenario p99 381 ms",
    "  (509, 920) against 20 ms; and 1 (2, 2) of 10,000 subscribes refused, the server logging",
    "  `redis MaxConnectionsError: Too many connections` in the connect storm. Latency is CPU: the",
    "  server spends 106-123 us per delivery, so one broadcast to 10,000 is 1.1-1.2 s of one core.",
    "  py-spy of the server (first run, whole run): 35% of its samples in Channels'",
    "  `aclose_old_connections` (AsyncConsumer.dispatch hops to a thread to close stale database",
    "  connections before every message a client sends: connect, subscribe, ping, disconnect), 16%",
    "  writing frames, 11% handshakes, 10% Redis. soketi's scenario needs about 0.4 of a core (about",
    "  95 sessions/s at 2.7-2.9 ms each, 1,000 deliveries/s at 110 us) on a machine at load 4-8.",
    "  Memory (tracemalloc, 2026-12-03): uvicorn's protocol and the handshake's headers ~14 KB,",
    "  Channels' consumer ~5 KB, the hub's Connection and writer task ~2 KB; under 20 KB needs a",
    "  plain ASGI consumer without a task per socket, under 500 ms clients spread over several",
    "  realtime processes.",
    "- growth, NOT met: every page and endpoint under 300 ms p99 at full data (the slowest, the",
    "  overview, 259 ms), ops_report and the nightly jobs met, but four within-2x ratios missed:",
    "  overview 2.9x, /metrics 4.3x, the audit and alerts deep pages 2.7x and 3.7x. The 1% data is",
    "  measured minutes before the full (then made from nothing, 256 s in 6 processes), and the load",
    "  rose between them (5.4 at growth's start, 9.6 four minutes later): the same pages' p50 rose",
    "  2-4x too (/metrics 18 -> 53 ms). The dashboard's and overview's queue history grows with the",
    "  number of queues (1 in the 1% data, 10 in the full). In the first run (also making its data)",
    "  every target was met; in the second, the dashboard (313 ms p99), overview (334 ms) and audit",
    "  (300.5 ms) were over 300 ms and failed jobs at 2.1x, with their p50 at 204, 198 and 20 ms.",
    "  p99 of 15 samples is the slowest one; the ratio needs the sizes measured interleaved to mean",
    "  more than the load.",
    "- backup, NOT met: 0.81x (0.61, 0.75; 0.89 in `ONLY=backup` at load 4-6), worst of 31, 126 and",
    "  1,020 MB of SQL (0.86, 0.81, 0.83), against 0.85, while spending less CPU than mariadb-dump |",
    "  zstd (cpu ratio 1.13-1.26). py-spy (idle samples too): our threads mostly wait on",
    "  mariadb-dump (the prefetcher reading its pipe 30%, the compressor waiting for it 25%,",
    "  compressing and encrypting 4%); the one cost the pipe has not is the manifest's row counts, a",
    "  `SELECT COUNT(*)` per table beside the dump, on the same loaded server (8% of the samples).",
    "  Peak RSS flat, met: 96.7-103.7 MB (1.07x).",
    "- restore, met: 0.97x the pipe at 600k rows (0.87, 0.82), best of 2 (11.6 s against 11.2 s).",
    "  Where it missed: the client side's CPU is close to the pipe's (1.61 against 1.34 s here, 1.43",
    "  against 1.41 in the second run), and py-spy (with idle samples) finds the feeding thread",
    "  blocked writing into the mariadb client's stdin for most of the load (29% of the samples in",
    "  backups code, against ~3% decrypting, decompressing and rewriting definers): both sides wait",
    "  on the same server, whose runs spread as much as the gap (the pipe 13.4-15.8 s in the second",
    "  run). Live restore passes, 18.8 s (load 11.0 s, pause workers 3.2 s, the broadcast's reply",
    "  window); peak RSS 93.3 MB at 126 MB of SQL and 93.5 MB at 1,020 MB (1.00x).",
    "- queue, NOT met: worst CPU ratio 0.911 (0.80 at 3 x 100 tasks, 0.645 at 3 x 300), against",
    "  0.95, on RabbitMQ ignore_result (1.37 ms a plain task, 1.50 ms a policy task). The policy",
    "  adds one pipelined INCR+EXPIRE to Redis per delivery (the attempt counter, since 2026-12-03),",
    "  measured alone at 53-83 us of CPU (225-618 us wall): 4-6% of a 1.3-1.5 ms plain task, so",
    "  about 0.95 is what the policy itself costs, at the target's edge; the rest is the load,",
    "  rounds of one kind swinging 1.5-3x. Met on a quiet machine before the counter (2026-11-29, 7",
    "  x 400: 0.97-1.00); rerun the default there.",
    "- pitr, met: 1.03 (0.94 met, 0.74 not; an `ONLY=pitr` rerun gave 0.37 and the next, under",
    "  py-spy, 2.15). Each side runs once, and our replay is 90% waiting on its mariadb-binlog |",
    "  mariadb child processes, the same tools as the pipe's: the spread is the server's and the",
    "  machine's.",
    "- realtime, met (met in the second run; cut in the first at its former 60 s budget, needing 135",
    "  s at load 8, 40 s quiet). health, met in all three.",
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
