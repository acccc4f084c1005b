"""Benchmark: this project's /health against django-health-check 4.x, on one uvicorn server.

    make bench            # or: .venv/bin/python -m bench.health [--seconds 8] [--connections 16]

One uvicorn process (the production server kind, no access log) serves both: opsproject's
/health and django-health-check's view at /dhc/, each configured with the same database,
cache and storage checks, against the machine's MariaDB and Redis. A keep-alive HTTP/1.1 load
generator measures requests/s and p50/p99 latency for each, in alternating rounds. Then a
second server whose database and Redis are black holes (they accept and never answer) gets
one request on each endpoint: the time to an answer is the black-hole latency.

Prints a table and the ratios; exits 1 if the throughput ratio is under --target (2.0).
Run it as a module from the checkout: bench/ holds modules named like the standard library's
(queue), which the script's own folder on sys.path would shadow.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from tests.health.support import BlackHole
from tests.support.processes import BIN, free_port, running

TARGETS = {"opsproject": "/health", "django-health-check": "/dhc/"}
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "mysql://root@127.0.0.1:3306/ops_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/4")


def ensure_database(url: str) -> None:
    """Create the bench's MySQL database if it is missing (the checks need it to exist)."""
    if not url.startswith("mysql://"):
        return
    import MySQLdb

    parts = urlsplit(url)
    connection = MySQLdb.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=parts.username or "root",
        passwd=parts.password or "",
    )
    try:
        name = parts.path.lstrip("/")
        connection.cursor().execute(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")
    finally:
        connection.close()


class Server:
    """uvicorn serving opsproject.asgi with the bench settings, as a managed child process."""

    def __init__(self, database_url: str, redis_url: str, var_dir: Path):
        self.port = free_port()
        self.argv = [str(BIN / "uvicorn"), "opsproject.asgi:application", "--host", "127.0.0.1"]
        self.argv += ["--port", str(self.port), "--lifespan", "off", "--no-access-log"]
        self.argv += ["--log-level", "warning"]
        self.env = {
            "DJANGO_SETTINGS_MODULE": "bench.health_settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "VAR_DIR": str(var_dir),
            "DEBUG": "0",
            "HEALTH_TOKEN": "",
        }

    def __enter__(self) -> Server:
        self._context = running(self.argv, env=self.env)
        self.process = self._context.__enter__()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/up", timeout=2).close()
                return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise SystemExit(f"bench server did not start:\n{self.process.output[-3000:]}")

    def __exit__(self, *exc) -> None:
        self._context.__exit__(*exc)


# --- load generator ---------------------------------------------------------------------------


async def _connection(port: int, path: str, stop_at: float, latencies: list, statuses: Counter) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n".encode()
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(request)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            statuses[int(status_line.split()[1])] += 1
    finally:
        writer.close()


async def _load(port: int, path: str, seconds: float, connections: int) -> tuple[list, Counter, float]:
    latencies: list[float] = []
    statuses: Counter = Counter()
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(*(_connection(port, path, stop_at, latencies, statuses) for _ in range(connections)))
    return latencies, statuses, time.perf_counter() - started


def measure(port: int, path: str, seconds: float, connections: int) -> dict:
    latencies, statuses, elapsed = asyncio.run(_load(port, path, seconds, connections))
    latencies.sort()
    return {
        "requests": len(latencies),
        "elapsed": elapsed,
        "latencies": latencies,
        "statuses": statuses,
    }


def summarise(runs: list[dict]) -> dict:
    latencies = sorted(value for run in runs for value in run["latencies"])
    requests = sum(run["requests"] for run in runs)
    elapsed = sum(run["elapsed"] for run in runs)
    statuses: Counter = Counter()
    for run in runs:
        statuses.update(run["statuses"])
    return {
        "rps": requests / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "requests": requests,
        "statuses": dict(statuses),
    }


def black_hole_latency(port: int, path: str, limit: float) -> tuple[str, float]:
    started = time.monotonic()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=limit) as response:
            status = str(response.status)
    except urllib.error.HTTPError as error:
        status = str(error.code)
    except (urllib.error.URLError, TimeoutError, OSError):
        status = f"no answer in {limit:g} s"
    return status, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds of load per target per round")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per target")
    parser.add_argument("--connections", type=int, default=16, help="concurrent keep-alive connections")
    parser.add_argument("--black-hole-limit", type=float, default=60.0, help="seconds to wait for an answer")
    parser.add_argument("--target", type=float, default=2.0, help="throughput ratio to reach")
    args = parser.parse_args()

    ensure_database(DATABASE_URL)
    results: dict[str, list] = {name: [] for name in TARGETS}
    with (
        tempfile.TemporaryDirectory(prefix="bench-health-") as var_dir,
        Server(DATABASE_URL, REDIS_URL, Path(var_dir)) as server,
    ):
        for path in TARGETS.values():  # warm-up: imports, connections, first check runs
            measure(server.port, path, 1.0, 4)
        for _ in range(args.rounds):
            for name, path in TARGETS.items():
                results[name].append(measure(server.port, path, args.seconds, args.connections))

    holes: dict[str, tuple[str, float]] = {}
    with BlackHole() as database, BlackHole() as redis, tempfile.TemporaryDirectory() as var_dir:
        database_url = f"mysql://root@127.0.0.1:{database.port}/ops_bench"
        redis_url = f"redis://127.0.0.1:{redis.port}/4"
        with Server(database_url, redis_url, Path(var_dir)) as server:
            for name, path in TARGETS.items():
                holes[name] = black_hole_latency(server.port, path, args.black_hole_limit)

    ours, theirs = summarise(results["opsproject"]), summarise(results["django-health-check"])
    rounds, seconds, connections = args.rounds, args.seconds, args.connections
    print(f"\n/health benchmark: one uvicorn process, {connections} keep-alive connections,")
    print(f"{rounds} x {seconds:g} s per target, MariaDB + Redis on this machine\n")
    print(f"{'server':<22}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'black hole':>16}  statuses")
    for name, summary in (("opsproject", ours), ("django-health-check", theirs)):
        status, seconds_taken = holes[name]
        print(
            f"{name:<22}{summary['rps']:>10.0f}{summary['p50']:>10.2f}{summary['p99']:>10.2f}"
            f"{f'{seconds_taken:.2f} s ({status})':>16}  {summary['statuses']}"
        )
    throughput = ours["rps"] / theirs["rps"]
    hole_ratio = holes["opsproject"][1] / holes["django-health-check"][1]
    print(
        f"{'ratio (ours/theirs)':<22}{throughput:>9.2f}x{ours['p50'] / theirs['p50']:>9.2f}x"
        f"{ours['p99'] / theirs['p99']:>9.2f}x{hole_ratio:>15.2f}x"
    )
    verdict = "met" if throughput >= args.target else "NOT met"
    print(f"\nthroughput target {args.target:g}x: {verdict}")
    return 0 if throughput >= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
