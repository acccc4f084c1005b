"""Benchmark: this project's /health against django-health-check 4.x, on one uvicorn server.

    make bench            # or: .venv/bin/python -m bench.health [--seconds 8] [--connections 16]

One uvicorn process (the production server kind, no access log) serves both: opsproject's
/health and django-health-check's view at /dhc/, each configured with the same database,
cache and storage checks, against the machine's MariaDB and Redis; a second one serves /health
with HEALTH_CACHE_SECONDS=0, so every request runs the checks as django-health-check's do. A
keep-alive HTTP/1.1 load generator measures requests/s and p50/p99 latency for each row, in
alternating rounds. Then servers with opsproject's DEFAULT check list (every app's checks)
whose Redis, then database, is a black hole (accepts and never answers) get one anonymous
request and one with the token and ?fresh=1, and /dhc/ one: the time to an answer, its status
and the components it reports failing.

Prints the tables and ratios; exits 1 unless both opsproject rows reach --target (2.0) times
django-health-check's throughput with a lower p99, and every black-hole answer is a 503 naming
the hung component within HEALTH_TIMEOUT + 0.5 s.
Run it as a module from the checkout: bench/ holds modules named like the standard library's
(queue), which the script's own folder on sys.path would shadow.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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

    def __init__(self, database_url: str, redis_url: str, var_dir: Path, env: dict | None = None):
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
            **(env or {}),
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


TOKEN = "bench-health-token-0123456789abcdef0123"


def black_hole_probe(port: int, path: str, limit: float, token: str = "") -> tuple[str, float, str]:
    """(status, seconds to the answer, failing components named in the body)."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    started = time.monotonic()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    body = b""
    try:
        with urllib.request.urlopen(request, timeout=limit) as response:
            status, body = str(response.status), response.read()
    except urllib.error.HTTPError as error:
        status, body = str(error.code), error.read()
    except (urllib.error.URLError, TimeoutError, OSError):
        status = f"no answer in {limit:g} s"
    elapsed = time.monotonic() - started
    return status, elapsed, _failing(body)


def _failing(body: bytes) -> str:
    try:
        checks = json.loads(body).get("checks", {})
    except (ValueError, AttributeError):
        return ""
    return ",".join(
        sorted(
            {
                key.split(":")[0]
                for key, entries in checks.items()
                if any(e.get("status") == "fail" for e in entries)
            }
        )
    )


def _load_rounds(servers: dict[str, tuple[Server, str]], args) -> dict[str, dict]:
    results: dict[str, list] = {name: [] for name in servers}
    for server, path in servers.values():  # warm-up: imports, connections, first check runs
        measure(server.port, path, 1.0, 4)
    for _ in range(args.rounds):
        for name, (server, path) in servers.items():
            results[name].append(measure(server.port, path, args.seconds, args.connections))
    return {name: summarise(runs) for name, runs in results.items()}


def _black_holes(args) -> list[tuple[str, str, str, float, str]]:
    """Each of Redis and the database black-holed in turn, the default check list, both callers."""
    rows = []
    env = {
        "BENCH_HEALTH_CHECKS": "default",
        "HEALTH_TOKEN": TOKEN,
        "HEALTH_TIMEOUT": str(args.health_timeout),
    }
    for hung in ("redis", "database"):
        with BlackHole() as hole, tempfile.TemporaryDirectory() as var_dir:
            database_url = (
                DATABASE_URL if hung == "redis" else f"mysql://root@127.0.0.1:{hole.port}/ops_bench"
            )
            redis_url = REDIS_URL if hung == "database" else f"redis://127.0.0.1:{hole.port}/4"
            with Server(database_url, redis_url, Path(var_dir), env) as server:
                for caller, path, token in (
                    ("anonymous", "/health", ""),
                    ("token, fresh", "/health?fresh=1", TOKEN),
                ):
                    status, seconds, failing = black_hole_probe(
                        server.port, path, args.black_hole_limit, token
                    )
                    rows.append((f"opsproject, {hung} hung", caller, status, seconds, failing))
                status, seconds, failing = black_hole_probe(server.port, "/dhc/", args.black_hole_limit)
                rows.append((f"django-health-check, {hung} hung", "anonymous", status, seconds, failing))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds of load per target per round")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per target")
    parser.add_argument("--connections", type=int, default=16, help="concurrent keep-alive connections")
    parser.add_argument("--black-hole-limit", type=float, default=60.0, help="seconds to wait for an answer")
    parser.add_argument(
        "--health-timeout", type=float, default=2.0, help="HEALTH_TIMEOUT of the black-hole server"
    )
    parser.add_argument("--target", type=float, default=2.0, help="throughput ratio to reach")
    args = parser.parse_args()

    ensure_database(DATABASE_URL)
    with (
        tempfile.TemporaryDirectory(prefix="bench-health-") as cached_dir,
        tempfile.TemporaryDirectory(prefix="bench-health-") as uncached_dir,
        Server(DATABASE_URL, REDIS_URL, Path(cached_dir)) as cached,
        Server(DATABASE_URL, REDIS_URL, Path(uncached_dir), {"HEALTH_CACHE_SECONDS": "0"}) as uncached,
    ):
        summaries = _load_rounds(
            {
                "opsproject (cached 2 s)": (cached, "/health"),
                "opsproject (cache 0)": (uncached, "/health"),
                "django-health-check": (cached, "/dhc/"),
            },
            args,
        )
    holes = _black_holes(args)

    rounds, seconds, connections = args.rounds, args.seconds, args.connections
    print(
        f"\n/health benchmark: one uvicorn process per opsproject row, {connections} keep-alive connections,"
    )
    print(f"{rounds} x {seconds:g} s per row, rows interleaved, MariaDB + Redis on this machine;")
    print("the same three checks (database, cache, storage) on every row; measured on a loaded machine\n")
    print(f"{'server':<26}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}  statuses")
    for name, summary in summaries.items():
        print(
            f"{name:<26}{summary['rps']:>10.0f}{summary['p50']:>10.2f}{summary['p99']:>10.2f}"
            f"  {summary['statuses']}"
        )
    theirs = summaries["django-health-check"]
    verdicts = []
    for name in ("opsproject (cached 2 s)", "opsproject (cache 0)"):
        ours = summaries[name]
        throughput, p99 = ours["rps"] / theirs["rps"], ours["p99"] / theirs["p99"]
        print(
            f"{'ratio ' + name.split(' ', 1)[1]:<26}{throughput:>9.2f}x"
            f"{ours['p50'] / theirs['p50']:>9.2f}x{p99:>9.2f}x"
        )
        verdicts.append((name, throughput >= args.target and p99 < 1))

    limit = args.health_timeout + 0.5
    print(
        f"\nblack hole: HEALTH_TIMEOUT={args.health_timeout:g} s,"
        " opsproject's DEFAULT check list (every app's checks)"
    )
    print(f"{'server, what hangs':<36}{'caller':<15}{'answer':>10}{'seconds':>9}  failing components")
    hole_ok = True
    for server, caller, status, seconds_taken, failing in holes:
        print(f"{server:<36}{caller:<15}{status:>10}{seconds_taken:>9.2f}  {failing or '-'}")
        if server.startswith("opsproject"):
            hung = "cache" if "redis" in server else "database"
            hole_ok &= status == "503" and seconds_taken <= limit and hung in failing.split(",")
    print()
    for name, ok in verdicts:
        print(f"{name}: >= {args.target:g}x throughput and lower p99: {'met' if ok else 'NOT met'}")
    print(f"black hole: 503 naming the hung component within {limit:g} s: {'met' if hole_ok else 'NOT met'}")
    return 0 if all(ok for _, ok in verdicts) and hole_ok else 1


if __name__ == "__main__":
    sys.exit(main())
