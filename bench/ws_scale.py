"""Benchmark: 10,000 Pusher websockets on one realtime process, and soketi's churn scenario.

    make bench ONLY=ws_scale      # or: .venv/bin/python -m bench.ws_scale [--clients 10000]

The server is the production one: `uvicorn opsproject.asgi:realtime_application` with
compose's flags, on the machine's Redis (channel layer, history, presence, heartbeat board).
The clients are plain Pusher-protocol websockets (the `websockets` client, offering
permessage-deflate as browsers do) in --workers child processes (bench/ws_clients.py), each
raising its own file limit. The server's REALTIME_MAX_CONNECTIONS_PER_IP stays at its
production default: clients are spread over loopback source addresses (127.0.1.x), at most
--per-address on each.

1. scale: --clients clients connect (at most --concurrency at a time per worker process); each
   subscribes to the public channel `bench` and to one private (groups of about 67) or, one
   client in three, one presence channel (rooms of about 10), with the signatures the app
   verifies. Reported: connect rate (connected and subscribed), server RSS idle and with every
   client (after the broadcasts), RSS per connection (target <= 20 KB), then delivery latency
   (send -> receipt, the send time in the payload) of `bench` broadcasts, each reaching every
   client (target p99 <= 500 ms), and of rounds of one broadcast on every private and presence
   channel sent back to back, and deliveries that never came within 30 s (target: none). Each
   round waits for its deliveries: the latency of one broadcast, not of a growing backlog.
   The server's CPU time per connection and per delivery is printed too: unlike latency, it
   does not depend on what else the machine is running.
2. soketi: soketi's published scenario (benchmark/ci-local.js: clients on channel `benchmark`,
   one message a second; 500 stay while 500 others connect, stay 5 s and leave, again and
   again; their published figure on 2 vCPUs is 6 ms of internal latency): our p50/p99 over
   every delivery (target p99 <= 20 ms); losses counted on the 500 that stay.

Exits 1 when a target is missed, a client could not connect, or a delivery was lost.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import multiprocessing
import os
import statistics
import sys
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)  # bench/queue.py would shadow the standard library
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsproject.settings")

SOKETI_PUBLISHED_MS = 6.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """CPU time the process used so far (user + system): what it cost, whatever the machine's load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def addresses(first: str, count: int, per_address: int) -> list[str]:
    """Source address of each of `count` clients, `per_address` on each from `first` on."""
    start = ipaddress.IPv4Address(first)
    return [str(start + i // per_address) for i in range(count)]


@contextmanager
def realtime_server(env: dict, extra: list[str]):
    """The realtime process with compose's command line; yields (it, its port) once it is on the board."""
    from realtime import servers
    from tests.deploy.compose_file import services
    from tests.support.processes import BIN, free_port, running

    port = free_port()
    command = services()["realtime"]["command"]
    argv = [str(BIN / command[0]), *(a for a in command[1:] if not a.startswith(("--host=", "--port=")))]
    argv += ["--host=127.0.0.1", f"--port={port}", *extra]
    with running(argv, env=env) as server:
        deadline = time.monotonic() + 60
        while not any(s["pid"] == server.proc.pid for s in servers.alive().values()):
            if time.monotonic() > deadline or server.proc.poll() is not None:
                raise RuntimeError(f"the realtime server did not start:\n{server.output[-3000:]}")
            time.sleep(0.2)
        yield server, port


def complaints(output: str) -> list[str]:
    """The server's warnings, errors and traceback endings, counted, the five most frequent."""
    lines = output.splitlines()
    found = Counter(
        line[28:][:150] if line[:4].isdigit() else line[:150]
        for i, line in enumerate(lines)
        if " WARNING " in line
        or " ERROR " in line
        or (i and lines[i - 1].startswith("  ") and not line.startswith(" "))
    )
    return [f"server: {count} x {line}" for line, count in found.most_common(5)]


class Fleet:
    """The load-generator processes; `ask` sends one command to each and gathers the replies."""

    def __init__(self, count: int, url: str):
        from bench import ws_clients

        context = multiprocessing.get_context("spawn")
        self.pipes, self.processes = [], []
        for _ in range(count):
            ours, theirs = context.Pipe()
            process = context.Process(target=ws_clients.main, args=(theirs, url), daemon=True)
            process.start()
            self.pipes.append(ours)
            self.processes.append(process)

    async def ask(self, command: str, args_each: list[tuple] | None = None) -> list:
        loop = asyncio.get_running_loop()
        for i, pipe in enumerate(self.pipes):
            pipe.send((command, args_each[i] if args_each else ()))
        return await asyncio.gather(*(loop.run_in_executor(None, pipe.recv) for pipe in self.pipes))

    async def stop(self) -> None:
        await self.ask("stop")
        for process in self.processes:
            process.join(10)


def split(items: list, parts: int) -> list[list]:
    return [items[i::parts] for i in range(parts)]


def scale_specs(clients: int, per_address: int) -> list:
    """(source address, [(channel, presence user or None)]) of each client of the scale run."""
    specs = []
    for i, source in enumerate(addresses("127.0.1.1", clients, per_address)):
        if i % 3 == 2:
            own = (f"presence-bench.{(i // 3) % 333}", f"u{i}")
        else:
            own = (f"private-bench.{(i - i // 3) % 100}", None)
        specs.append((source, [("bench", None), own]))
    return specs


async def broadcast(channel: str, seq: int) -> None:
    from realtime import abroadcast

    await abroadcast(channel, "tick", {"seq": seq, "t": time.monotonic()})


async def gather_receipts(fleet: Fleet, expected: dict[int, int], timeout: float) -> tuple[list, int]:
    """Collect until every expected delivery came or `timeout` passed: (latencies, lost)."""
    latencies: list[float] = []
    receipts: Counter[int] = Counter()
    deadline = time.monotonic() + timeout
    while True:
        for reply in await fleet.ask("collect"):
            latencies += reply["latencies"]
            receipts.update(reply["receipts"])
        missing = sum(max(0, want - receipts[seq]) for seq, want in expected.items())
        if not missing or time.monotonic() > deadline:
            return latencies, missing
        await asyncio.sleep(0.5)


def connect_failures(replies: list) -> Counter:
    failures: Counter[str] = Counter()
    for reply in replies:
        failures.update(reply["failures"])
    return failures


async def scale(args, env: dict) -> tuple[list[str], bool]:
    specs = scale_specs(args.clients, args.per_address)
    with realtime_server(env, args.server_arg) as (server, port):
        url = f"ws://127.0.0.1:{port}/app/{os.environ['REALTIME_APP_KEY']}?protocol=7&client=js&version=8.4.0"
        fleet = Fleet(args.workers, url)
        try:
            # One client per worker first, so the idle figure includes code paths loaded on first use.
            await fleet.ask("connect", [([("127.0.0.254", [("bench", None)])], 1)] * args.workers)
            idle, cpu = rss_kb(server.proc.pid), cpu_seconds(server.proc.pid)
            started = time.monotonic()
            replies = await fleet.ask(
                "connect", [(part, args.concurrency) for part in split(specs, args.workers)]
            )
            connect_seconds = time.monotonic() - started
            opened = sum(r["opened"] for r in replies) - args.workers  # less the warm-up clients
            failures = connect_failures(replies)
            subscribers = sum((Counter(r["subscribed"]) for r in replies), Counter())
            connected_rss = rss_kb(server.proc.pid)
            connect_cpu, cpu = cpu_seconds(server.proc.pid) - cpu, cpu_seconds(server.proc.pid)
            await broadcast("bench", 0)  # a warm-up: the sender's connections, the first delivery
            await gather_receipts(fleet, {0: subscribers["bench"]}, 30)
            # Each round waits for its deliveries: the latency of one broadcast, not of a backlog.
            public, public_lost, channels, channels_lost = [], 0, [], 0
            owned = [c for c in subscribers if c != "bench"]
            for seq in range(1, args.rounds + 1):
                await broadcast("bench", seq)
                latencies, lost = await gather_receipts(fleet, {seq: subscribers["bench"]}, 30)
                public, public_lost = public + latencies, public_lost + lost
            for round_ in range(args.rounds):
                expected = {}
                for seq, channel in enumerate(owned, start=(round_ + 1) * 100_000):
                    expected[seq] = subscribers[channel]
                    await broadcast(channel, seq)
                latencies, lost = await gather_receipts(fleet, expected, 30)
                channels, channels_lost = channels + latencies, channels_lost + lost
            loaded_rss = rss_kb(server.proc.pid)
            deliveries = len(public) + len(channels)
            delivery_cpu = cpu_seconds(server.proc.pid) - cpu
        finally:
            await fleet.stop()
    per_connection = (loaded_rss - idle) / max(opened, 1)
    rate = opened / connect_seconds
    lines = [
        f"{opened:,} of {args.clients:,} clients connected and subscribed in {connect_seconds:.1f} s "
        f"({rate:,.0f}/s; {args.workers} generator processes, {args.concurrency} handshakes at once each, "
        f"{len(set(a for a, _ in specs))} source addresses, <= {args.per_address} per address)",
        f"public `bench` + {len([c for c in owned if c.startswith('private-')])} private + "
        f"{len([c for c in owned if c.startswith('presence-')])} presence channels",
        f"server RSS: idle {idle / 1024:.1f} MiB, all connected {connected_rss / 1024:.1f} MiB, "
        f"after the broadcasts {loaded_rss / 1024:.1f} MiB -> {per_connection:.1f} KB per connection "
        "(target <= 20 KB)",
        f"server CPU time: {connect_cpu * 1000 / max(opened, 1):.2f} ms per connection (handshake and "
        f"subscriptions), {delivery_cpu * 1e6 / max(deliveries, 1):.0f} us per delivery",
        "",
        f"{'broadcasts':<44} {'deliveries':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'lost':>6}",
        row(f"{args.rounds} on `bench` (every client)", public, public_lost),
        row(f"{args.rounds} x one on each of {len(owned)} private/presence", channels, channels_lost),
    ]
    if failures:
        lines.append(f"connect failures: {dict(failures.most_common(5))}")
    lines += complaints(server.output)
    met = (
        opened == args.clients
        and per_connection <= 20
        and percentile(public, 0.99) <= 500
        and not public_lost
        and not channels_lost
    )
    return lines, met


def row(name: str, latencies: list[float], lost: int) -> str:
    return (
        f"{name:<44} {len(latencies):>10,} {statistics.median(latencies or [0]):>8.1f} "
        f"{percentile(latencies, 0.99):>8.1f} {max(latencies or [0]):>8.1f} {lost:>6}"
    )


async def soketi(args, env: dict) -> tuple[list[str], bool]:
    steady = [
        (a, [("benchmark", None)]) for a in addresses("127.0.2.1", args.soketi_clients, args.per_address)
    ]
    churning = [
        (a, [("benchmark", None)]) for a in addresses("127.0.3.1", args.soketi_clients, args.per_address)
    ]
    with realtime_server(env, args.server_arg) as (server, port):
        url = f"ws://127.0.0.1:{port}/app/{os.environ['REALTIME_APP_KEY']}?protocol=7&client=js&version=8.4.0"
        fleet = Fleet(args.workers, url)
        try:
            replies = await fleet.ask(
                "connect", [(part, args.concurrency) for part in split(steady, args.workers)]
            )
            opened = sum(r["opened"] for r in replies)
            failures = connect_failures(replies)
            await broadcast("benchmark", 0)  # a warm-up
            await gather_receipts(fleet, {0: opened}, 30)
            loop = asyncio.get_running_loop()
            churn = loop.create_task(
                fleet.ask(
                    "churn", [(part, args.soketi_seconds, 5.0) for part in split(churning, args.workers)]
                )
            )
            await asyncio.sleep(5)  # the churn under way
            expected = {}
            for seq in range(1, int(args.soketi_seconds) - 5):
                expected[seq] = opened
                await broadcast("benchmark", seq)
                await asyncio.sleep(1)
            churned = await churn
            failures += connect_failures(churned)
            sessions = sum(r["sessions"] for r in churned)
            latencies, lost = await gather_receipts(fleet, expected, 30)
        finally:
            await fleet.stop()
    lines = [
        f"{opened} steady clients, {len(churning)} connecting, staying 5 s and leaving "
        f"({sessions:,} sessions in {args.soketi_seconds:.0f} s), one message a second on `benchmark`",
        f"{'':<44} {'deliveries':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'lost':>6}",
        row("ours", latencies, lost),
        f"soketi's published figure, same scenario on 2 vCPUs: {SOKETI_PUBLISHED_MS:.0f} ms internal latency",
    ]
    if failures:
        lines.append(f"connect failures: {dict(failures.most_common(5))}")
    lines += complaints(server.output)
    met = opened == args.soketi_clients and not lost and percentile(latencies, 0.99) <= 20 and not failures
    return lines, met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4, help="load-generator processes")
    parser.add_argument("--concurrency", type=int, default=100, help="handshakes at once per worker")
    parser.add_argument("--per-address", type=int, default=80, help="clients per source address")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--soketi-clients", type=int, default=500)
    parser.add_argument("--soketi-seconds", type=float, default=45)
    parser.add_argument("--server-arg", action="append", default=[], help="one more uvicorn argument")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7"))
    args = parser.parse_args()

    from bench.realtime import server_env

    keys = {"REALTIME_APP_KEY": "bench-key", "REALTIME_APP_SECRET": "bench-secret"}
    env = server_env(args.redis_url, "bench-ws-", **keys)
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings

    if args.per_address > (settings.REALTIME_MAX_CONNECTIONS_PER_IP or args.per_address):
        print("--per-address must be within REALTIME_MAX_CONNECTIONS_PER_IP", file=sys.stderr)
        return 2
    started = time.monotonic()
    print(f"1. {args.clients:,} clients on one realtime process", flush=True)
    lines, scale_met = asyncio.run(scale(args, env))
    print("\n".join(lines), flush=True)
    print(
        f"\n2. soketi's scenario ({args.soketi_clients} steady + {args.soketi_clients} churning)", flush=True
    )
    lines, soketi_met = asyncio.run(soketi(args, env))
    print("\n".join(lines))
    print(f"\nboth runs: {time.monotonic() - started:.0f} s")
    return 0 if scale_met and soketi_met else 1


if __name__ == "__main__":
    sys.exit(main())
