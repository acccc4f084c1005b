"""Benchmark: realtime.broadcast() against raw Channels group_send, on one server and one Redis.

    make bench            # or: .venv/bin/python bench/realtime.py [--clients 100,1000]

One uvicorn process serves two websocket routes on the same channel layer (the machine's
Redis, through channels_redis): our Pusher endpoint /app/<key>, where each process's hub joins
one group per channel and fans out, and /raw/, the plain Channels pattern where every consumer
joins the group itself and sends what group_send hands it. For each client count, N clients of
each kind are connected (the same websockets client, in this process), and for each path:

- latency: broadcasts one at a time, each waited for at every client; p50 and p99 of
  send -> receipt over all deliveries. Our path includes what it adds: the event id and the
  history write in Redis.
- throughput: a burst of broadcasts sent back to back; deliveries per second from the first
  send to the last receipt, and deliveries that had not come a minute after the burst (a
  consumer that falls `REALTIME_CHANNEL_EXPIRY` seconds behind loses messages to the layer's
  expiry).

Rounds alternate between the paths. Prints a table and the ratios ours/raw (throughput:
raw/ours, so above 1 is worse for us too); exits 1 if one is above --target (1.25) or if our
path lost a delivery (the raw path's losses are reported, as the baseline's).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The repository, not bench/, comes first: bench/queue.py would shadow the standard library.
sys.path[0] = str(REPO)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsproject.settings")

RAW_GROUP = "bench-raw"
CHANNEL = "bench"


# --- the server side: uvicorn imports this module with --factory ---------------------------


def make_application():
    """Our routes plus /raw/: a consumer per client in the group, as Channels' docs do it."""
    from django.core.asgi import get_asgi_application

    django_app = get_asgi_application()
    from channels.generic.websocket import AsyncWebsocketConsumer
    from channels.routing import ProtocolTypeRouter, URLRouter
    from django.urls import path

    from realtime.routing import websocket_urlpatterns

    class RawGroupConsumer(AsyncWebsocketConsumer):
        async def connect(self):
            await self.accept()
            await self.channel_layer.group_add(RAW_GROUP, self.channel_name)
            await self.send(text_data='{"event":"ready"}')

        async def disconnect(self, code):
            await self.channel_layer.group_discard(RAW_GROUP, self.channel_name)

        async def bench_frame(self, message):
            await self.send(text_data=message["frame"])

    routes = [*websocket_urlpatterns, path("raw/", RawGroupConsumer.as_asgi())]
    return ProtocolTypeRouter({"http": django_app, "websocket": URLRouter(routes)})


# --- the driver -----------------------------------------------------------------------------


class Clients:
    """N websockets on one path; each records when every broadcast (by seq) reached it."""

    def __init__(self):
        self.sockets = []
        self.received: dict[int, list[float]] = {}
        self.expected = 0
        self.waiters: dict[int, asyncio.Future] = {}
        self.tasks = []

    async def connect(self, url: str, count: int, subscribe: bool) -> None:
        import websockets

        semaphore = asyncio.Semaphore(50)

        async def one():
            async with semaphore:
                ws = await websockets.connect(url, ping_interval=None, max_size=None, open_timeout=60)
                first = json.loads(await ws.recv())
                if subscribe:
                    assert first["event"] == "pusher:connection_established", first
                    await ws.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": CHANNEL}}))
                    reply = json.loads(await ws.recv())
                    assert reply["event"] == "pusher_internal:subscription_succeeded", reply
                else:
                    assert first["event"] == "ready", first
                self.sockets.append(ws)

        await asyncio.gather(*(one() for _ in range(count)))
        self.tasks = [asyncio.ensure_future(self._read(ws)) for ws in self.sockets]

    async def _read(self, ws) -> None:
        loads, clock = json.loads, time.perf_counter
        async for text in ws:
            now = clock()
            message = loads(text)
            if message["event"] != "tick":
                continue
            seq = loads(message["data"])["seq"]
            times = self.received.setdefault(seq, [])
            times.append(now)
            if len(times) == len(self.sockets) and seq in self.waiters:
                self.waiters.pop(seq).set_result(None)

    async def wait_for(self, seq: int, timeout: float) -> None:
        if len(self.received.get(seq, ())) == len(self.sockets):
            return
        future = self.waiters.setdefault(seq, asyncio.get_running_loop().create_future())
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self.waiters.pop(seq, None)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)


class Path_:
    def __init__(self, name: str, clients: Clients, send):
        self.name, self.clients, self.send = name, clients, send
        self.latencies: list[float] = []
        self.delivered = 0
        self.lost = 0
        self.burst_seconds = 0.0
        self.seq = 0

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    async def latency_round(self, count: int) -> None:
        for _ in range(count):
            seq = self.next_seq()
            started = time.perf_counter()
            await self.send(seq)
            await self.clients.wait_for(seq, 20)
            times = self.clients.received.get(seq, [])
            self.latencies += [(t - started) * 1000 for t in times]
            self.lost += len(self.clients.sockets) - len(times)

    async def burst_round(self, count: int) -> None:
        seqs = [self.next_seq() for _ in range(count)]
        started = time.perf_counter()
        for seq in seqs:
            await self.send(seq)
        await asyncio.gather(*(self.clients.wait_for(seq, 60) for seq in seqs))
        arrivals = [t for seq in seqs for t in self.clients.received.get(seq, [])]
        if arrivals:
            self.burst_seconds += max(arrivals) - started
        self.delivered += len(arrivals)
        self.lost += count * len(self.clients.sockets) - len(arrivals)

    def row(self, clients: int) -> dict:
        latencies = sorted(self.latencies)
        return {
            "clients": clients,
            "path": self.name,
            "p50": statistics.median(latencies),
            "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
            "rate": self.delivered / self.burst_seconds if self.burst_seconds else 0.0,
            "lost": self.lost,
        }


async def measure(port: int, clients: int, rounds: int, latency_count: int, burst: int) -> list[dict]:
    from channels.layers import get_channel_layer
    from django.conf import settings

    from realtime import abroadcast, protocol

    layer = get_channel_layer()
    ours, raw = Clients(), Clients()
    await ours.connect(f"ws://127.0.0.1:{port}/app/{settings.REALTIME_APP_KEY}?protocol=7", clients, True)
    await raw.connect(f"ws://127.0.0.1:{port}/raw/", clients, False)

    async def send_ours(seq: int) -> None:
        await abroadcast(CHANNEL, "tick", {"seq": seq})

    async def send_raw(seq: int) -> None:
        frame = protocol.frame("tick", json.dumps({"seq": seq}), CHANNEL)
        await layer.group_send(RAW_GROUP, {"type": "bench.frame", "frame": frame})

    paths = [Path_("realtime.broadcast", ours, send_ours), Path_("group_send (raw)", raw, send_raw)]
    for path in paths:  # warm up connections and code paths
        await path.latency_round(3)
        path.latencies.clear()
        path.lost = 0
    for _ in range(rounds):
        for path in paths:
            await path.latency_round(latency_count)
        for path in paths:
            await path.burst_round(burst)
    await ours.close()
    await raw.close()
    return [path.row(clients) for path in paths]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="100,1000", help="comma-separated client counts")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--latency-broadcasts", type=int, default=15, help="per round and path")
    parser.add_argument("--burst", type=int, default=0, help="broadcasts per burst (default: by N)")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7"))
    parser.add_argument("--target", type=float, default=1.25)
    args = parser.parse_args()

    # Every bench client comes from 127.0.0.1: production's per-address limit would refuse most.
    env = server_env(args.redis_url, "bench-realtime-", REALTIME_MAX_CONNECTIONS_PER_IP="0")
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings

    from tests.support.processes import BIN, free_port, running

    port = free_port()
    argv = [str(BIN / "uvicorn"), "bench.realtime:make_application", "--factory", "--port", str(port)]
    argv += ["--host", "127.0.0.1", "--lifespan", "off", "--no-access-log", "--log-level", "warning"]
    argv += ["--ws-max-size", str(settings.REALTIME_MAX_MESSAGE_BYTES)]  # as production runs it
    rows = []
    with running(argv, env=env) as server:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                import socket

                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        for count in (int(n) for n in args.clients.split(",")):
            burst = args.burst or max(20, 10_000 // count)
            print(f"{count} clients per path: {args.rounds} rounds of {args.latency_broadcasts} "
                  f"single broadcasts and a burst of {burst}...", flush=True)  # fmt: skip
            rows += asyncio.run(measure(port, count, args.rounds, args.latency_broadcasts, burst))
        server_output = server.output

    print()
    print(f"{'clients':>7}  {'path':<20} {'p50 ms':>8} {'p99 ms':>8} {'deliveries/s':>13} {'lost':>6}")
    for row in rows:
        print(f"{row['clients']:>7}  {row['path']:<20} {row['p50']:>8.2f} {row['p99']:>8.2f} "
              f"{row['rate']:>13,.0f} {row['lost']:>6}")  # fmt: skip
    print()
    worst = 0.0
    for ours, raw in zip(rows[::2], rows[1::2], strict=True):
        ratios = {
            "p50": ours["p50"] / raw["p50"],
            "p99": ours["p99"] / raw["p99"],
            "throughput": raw["rate"] / ours["rate"] if ours["rate"] else float("inf"),
        }
        worst = max(worst, *ratios.values())
        shown = ", ".join(f"{name} {value:.2f}" for name, value in ratios.items())
        print(f"{ours['clients']:>7} clients: ours/raw {shown} (target <= {args.target})")
    ours_failed, baseline_failed = _tracebacks(server_output)
    if baseline_failed:
        # Plain Channels consumers each take a pooled Redis connection for group_add/discard;
        # 1,000 of them at once exhaust the pool. That is the baseline's weakness, reported.
        print(f"raw group_send baseline: {baseline_failed} server error(s) under load (its consumers)")
    if ours_failed:
        print(server_output[-3000:])
        return 1
    lost = sum(row["lost"] for row in rows[::2])
    if lost:
        print(f"realtime.broadcast: {lost} deliveries never arrived")
    return 0 if worst <= args.target and not lost else 1


def server_env(redis_url: str, prefix: str, **extra: str) -> dict[str, str]:
    """The websocket benches' server environment; raises this process's file limit, which the
    server and the load generators inherit (thousands of sockets on both sides)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    var_dir = tempfile.mkdtemp(prefix=prefix)
    env = {"REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{var_dir}/db.sqlite3", "VAR_DIR": var_dir}
    return {**env, "LOG_LEVEL": "WARNING", **extra}


def _tracebacks(output: str) -> tuple[int, int]:
    """Server tracebacks split by origin: (in our realtime path, in the raw baseline consumer)."""
    ours = baseline = 0
    for block in output.split("Traceback (most recent call last):")[1:]:
        if "RawGroupConsumer" in block or 'bench/realtime.py", line' in block:
            baseline += 1
        else:
            ours += 1
    return ours, baseline


if __name__ == "__main__":
    sys.exit(main())
