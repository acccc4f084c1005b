"""The load generator of bench/ws_scale.py: Pusher clients in one child process, driven over a pipe.

bench/ws_scale.py starts several of these (multiprocessing's spawn), each holding its share of
the clients. Every client socket is bound to the loopback source address its spec names
(127.0.1.x), so the server counts it under that address, as it counts a real client under
its own, and its per-address connection limit stays what production runs. Private and
presence subscriptions carry the signature the app's auth endpoint would give
(realtime.protocol.auth_token, the signing the server verifies).

A broadcast's payload carries `t`, the sender's time.monotonic() (one clock for every process
of the machine); a client notes `now - t` for each one it receives, and counts them by `seq`.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import time
from collections import Counter

EVENT = "tick"


class Recorder:
    """Delivery latencies (ms) of every client, and receipts by seq of those counted for losses."""

    def __init__(self):
        self.latencies: list[float] = []
        self.receipts: Counter[int] = Counter()

    def note(self, seq: int, latency: float, counted: bool) -> None:
        self.latencies.append(latency)
        if counted:
            self.receipts[seq] += 1

    def take(self) -> dict:
        result = {"latencies": self.latencies, "receipts": dict(self.receipts)}
        self.latencies, self.receipts = [], Counter()
        return result


async def open_client(url: str, source: str, channels: list[tuple[str, str | None]]):
    """A subscribed client: connect from `source`, then each (channel, presence user id or None)."""
    from websockets.asyncio.client import connect

    from realtime import protocol

    # No client pings: the server pings (uvicorn's, and pusher:ping after a silence).
    ws = await connect(url, local_addr=(source, 0), ping_interval=None, open_timeout=120, close_timeout=5)
    welcome = json.loads(await ws.recv())
    if welcome["event"] != "pusher:connection_established":
        await ws.close()
        raise ConnectionError(f"{welcome['event']}: {str(welcome.get('data'))[:200]}")
    socket_id = json.loads(welcome["data"])["socket_id"]
    for channel, user in channels:
        data = {"channel": channel}
        if user is not None:
            data["channel_data"] = json.dumps({"user_id": user, "user_info": {"name": f"user {user}"}})
        if protocol.channel_kind(channel) != protocol.PUBLIC:
            data["auth"] = protocol.auth_token(socket_id, channel, data.get("channel_data"))
        await ws.send(json.dumps({"event": "pusher:subscribe", "data": data}))
    pending = {channel for channel, _ in channels}
    while pending:  # member_added of others may come first
        reply = json.loads(await ws.recv())
        if reply["event"] == "pusher_internal:subscription_succeeded":
            pending.discard(reply["channel"])
        elif reply["event"] in ("pusher:error", "pusher:subscription_error"):
            await ws.close()
            raise ConnectionError(f"{reply['event']}: {str(reply.get('data'))[:200]}")
    return ws


async def listen(ws, recorder: Recorder, counted: bool) -> None:
    """Note every tick until the socket closes; answer the server's pusher:ping."""
    loads, clock = json.loads, time.monotonic
    try:
        async for text in ws:
            now = clock()
            message = loads(text)
            event = message["event"]
            if event == EVENT:
                data = loads(message["data"])
                recorder.note(data["seq"], (now - data["t"]) * 1000, counted)
            elif event == "pusher:ping":
                await ws.send('{"event":"pusher:pong","data":{}}')
    except Exception:  # closed under us: the parent counts what did not arrive
        pass


class Worker:
    def __init__(self, url: str):
        self.url = url
        self.recorder = Recorder()  # the steady clients
        self.sockets = []
        self.tasks: list[asyncio.Task] = []
        self.subscribed: Counter[str] = Counter()  # subscribers by channel, of the steady clients
        self.churn_sessions = 0
        self.failures: Counter[str] = Counter()

    async def connect(self, specs: list, concurrency: int) -> dict:
        semaphore = asyncio.Semaphore(concurrency)
        started = time.monotonic()

        async def one(source, channels):
            async with semaphore:
                try:
                    ws = await open_client(self.url, source, channels)
                except Exception as exc:
                    self.failures[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1
                    return
                self.sockets.append(ws)
                self.subscribed.update(channel for channel, _ in channels)
                self.tasks.append(asyncio.ensure_future(listen(ws, self.recorder, True)))

        await asyncio.gather(*(one(source, channels) for source, channels in specs))
        return {
            "opened": len(self.sockets),
            "subscribed": dict(self.subscribed),
            "seconds": time.monotonic() - started,
            "failures": self.take_failures(),
        }

    async def churn(self, specs: list, seconds: float, session: float) -> dict:
        """Each spec's client connects, stays `session` seconds, leaves, again, for `seconds`."""
        end = time.monotonic() + seconds

        async def cycle(source, channels):
            await asyncio.sleep(random.uniform(0, session))  # spread the arrivals evenly
            while time.monotonic() < end:
                try:
                    ws = await open_client(self.url, source, channels)
                except Exception as exc:
                    self.failures[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1
                    await asyncio.sleep(0.5)
                    continue
                # Its deliveries count for latency, not for losses: it comes and goes.
                reader = asyncio.ensure_future(listen(ws, self.recorder, False))
                await asyncio.sleep(min(session, max(0.0, end - time.monotonic())))
                await ws.close()
                await reader
                self.churn_sessions += 1

        await asyncio.gather(*(cycle(source, channels) for source, channels in specs))
        return {"sessions": self.churn_sessions, "failures": self.take_failures()}

    def take_failures(self) -> dict:
        failures, self.failures = dict(self.failures), Counter()
        return failures

    async def close(self) -> dict:
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)
        await asyncio.gather(*self.tasks, return_exceptions=True)
        return {"closed": len(self.sockets)}


async def serve(pipe, url: str) -> None:
    worker = Worker(url)
    loop = asyncio.get_running_loop()
    while True:
        command, args = await loop.run_in_executor(None, pipe.recv)
        if command == "stop":
            pipe.send(await worker.close())
            return
        if command == "collect":
            await asyncio.sleep(0)
            pipe.send(worker.recorder.take())
        else:
            pipe.send(await getattr(worker, command)(*args))


def main(pipe, url: str) -> None:
    """The child's entry: raise its own file limit, then obey the pipe until told to stop."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsproject.settings")
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    runner(serve(pipe, url))
