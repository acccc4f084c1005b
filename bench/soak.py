"""Soak: steady API, task, webhook and websocket load; does the memory of each process stay flat?

    make soak                         # 10 minutes; or: .venv/bin/python -m bench.soak [--minutes 10]

It starts the fault suite's stack (tests/reliability/stack.py: a MariaDB and a Redis of its own,
uvicorn, two workers, two beats) plus a second uvicorn as the realtime server, the way the
production compose file splits web and websockets. Then, for the whole run, at steady rates:

- API: ticket creation (201) and listing on the helpdesk API, the ops API's queue overview;
- tasks: `reliability.work` sent to the workers, and `reliability.announce` broadcasts;
- webhooks: signed Mailgun tracking events (delivered, opened, failures, complaints);
- websockets: clients on the realtime server, subscribed to the feed the broadcasts go to.

Every few seconds it reads the resident memory (VmRSS) of the web, the realtime server, each
worker (main process and pool children together) and each beat. After a warm-up (the first fifth
of the run), it fits a line to each and reports the slope in MB per hour and the growth over the
steady part. A process is flat when that fitted growth is under 5% of its memory at the start of
the steady part (and under 10 MB). The run fails (exit 1) when a process is not flat, when a
request, send or webhook failed, or when a broadcast did not reach every client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsproject.settings")

SIGNING_KEY = "soak-signing-key-0123456789abcdef"
FLAT_SHARE = 0.05  # fitted growth over the steady part, as a share of the memory at its start
FLAT_MB = 10.0
SAMPLE_EVERY = 5.0
WS_CLIENTS = 20


def rss_mb(pid: int) -> float:
    """Resident memory of one process in MB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def group_rss_mb(pgid: int) -> float:
    from tests.support.processes import group_members

    return sum(rss_mb(pid) for pid in group_members(pgid))


def fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares (slope per second, value at the first point) of (seconds, MB) points."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mean_x) ** 2 for x in xs) or 1.0
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var
    return slope, mean_y + slope * (xs[0] - mean_x)


class Load(threading.Thread):
    """Calls `action` `rate` times a second until stopped; counts outcomes by label."""

    def __init__(self, name: str, rate: float, action):
        super().__init__(name=name, daemon=True)
        self.rate, self.action = rate, action
        self.outcomes: Counter[str] = Counter()
        self.failures: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        period = 1.0 / self.rate
        next_at = time.monotonic()
        while not self.halt.is_set():
            try:
                self.outcomes[self.action()] += 1
            except Exception as exc:  # counted and shown; the load goes on
                self.outcomes["error"] += 1
                if len(self.failures) < 20:
                    self.failures.append(f"{type(exc).__name__}: {exc}"[:300])
            next_at += period
            self.halt.wait(max(0.0, next_at - time.monotonic()))


def http(base: str, method: str, path: str, body: bytes | None = None, headers=None) -> int:
    request = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        error.read()
        return error.code


class Listeners(threading.Thread):
    """WS_CLIENTS Pusher clients on the realtime server, subscribed to the broadcast feed."""

    def __init__(self, url: str, channel: str):
        super().__init__(name="websockets", daemon=True)
        self.url, self.channel = url, channel
        self.received: Counter[int] = Counter()  # seq -> clients that got it
        self.errors: list[str] = []
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.stop_event: asyncio.Event | None = None

    def run(self) -> None:
        self.loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self.stop_event = asyncio.Event()
        tasks = [asyncio.create_task(self._client(n)) for n in range(WS_CLIENTS)]
        await self.stop_event.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _client(self, n: int) -> None:
        import websockets

        subscribed = 0
        try:
            async with websockets.connect(self.url, ping_interval=20) as ws:
                json.loads(await ws.recv())  # pusher:connection_established
                await ws.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": self.channel}}))
                async for raw in ws:
                    frame = json.loads(raw)
                    if frame.get("event") == "pusher:ping":  # as pusher-js does, or the server closes
                        await ws.send(json.dumps({"event": "pusher:pong", "data": {}}))
                    elif frame.get("event") == "pusher_internal:subscription_succeeded":
                        subscribed = 1
                        self._count_ready()
                    elif frame.get("event") == "tick":
                        data = frame.get("data")
                        data = json.loads(data) if isinstance(data, str) else data
                        self.received[int(data["seq"])] += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.errors.append(f"client {n} (subscribed {subscribed}): {type(exc).__name__}: {exc}"[:300])

    _ready_count = 0

    def _count_ready(self) -> None:
        self._ready_count += 1
        if self._ready_count >= WS_CLIENTS:
            self.ready.set()

    def stop(self) -> None:
        if self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.join(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the run (10)")
    options = parser.parse_args()
    if options.minutes <= 0:
        parser.error("--minutes must be above 0")
    # The stack's processes inherit these (ManagedProcess adds this process's environment).
    os.environ.update(
        MAILGUN_WEBHOOK_SIGNING_KEY=SIGNING_KEY,
        MAILGUN_API_KEY="key-soak-not-used",
        MAILGUN_SENDER_DOMAIN="mg.example.com",
        LOG_LEVEL="WARNING",
    )
    from django.conf import settings

    from tests.reliability.stack import OPS_TOKEN, Stack
    from tests.reliability.tasks import FEED
    from tests.support.processes import BIN, ManagedProcess, free_port

    root = Path(tempfile.mkdtemp(prefix="soak-"))
    stack = Stack(root)
    realtime = None
    loads: list[Load] = []
    listeners = None
    try:
        print(f"starting the stack in {root} ...", flush=True)
        stack.start()
        stack.wait_healthy()
        realtime_port = free_port()
        argv = [str(BIN / "uvicorn"), "opsproject.asgi:application", "--host", "127.0.0.1"]
        argv += ["--port", str(realtime_port), "--lifespan", "off", "--log-level", "info", "--no-access-log"]
        argv += ["--ws-max-size", str(settings.REALTIME_MAX_MESSAGE_BYTES)]  # as production runs it
        realtime = ManagedProcess(argv, env=stack.env())
        realtime.wait_for_line(r"Uvicorn running on", timeout=60)

        key = settings.REALTIME_APP_KEY
        listeners = Listeners(f"ws://127.0.0.1:{realtime_port}/app/{key}?protocol=7&client=soak", FEED)
        listeners.start()
        if not listeners.ready.wait(60):
            raise SystemExit(f"websocket clients did not subscribe: {listeners.errors[:3]}")

        loads = _loads(stack, OPS_TOKEN)
        for load in loads:
            load.start()
        return _measure(stack, realtime, listeners, loads, options.minutes)
    finally:
        for load in loads:
            load.halt.set()
        if listeners is not None:
            listeners.stop()
        if realtime is not None:
            realtime.stop()
        stack.close()


def _loads(stack, ops_token: str) -> list[Load]:
    from tests.mailops.signing import payload

    base, auth = stack.base, {"Authorization": f"Token {ops_token}"}
    producer = stack.producer()
    counter = iter(range(10**9))
    kinds = ["delivered"] * 6 + ["opened"] * 2 + ["temporary_failure", "permanent_failure", "complained"]

    def create_ticket() -> str:
        body = json.dumps({"subject": f"soak {next(counter)}", "description": "steady load"}).encode()
        return str(http(base, "POST", "/api/tickets/", body, {**auth, "Content-Type": "application/json"}))

    def read_api() -> str:
        tickets = http(base, "GET", "/api/tickets/", None, auth)
        return f"{tickets}/{http(base, 'GET', '/api/ops/queues/', None, auth)}"

    def send_task() -> str:
        producer.send_task("reliability.work", args=[f"soak-{next(counter)}"], kwargs={"seconds": 0.01})
        return "sent"

    def broadcast() -> str:
        producer.send_task("reliability.announce", args=[next(counter)])
        return "sent"

    def webhook() -> str:
        n = next(counter)
        event = payload(kinds[n % len(kinds)], f"user{n % 500}@example.com", key=SIGNING_KEY)
        body = json.dumps(event).encode()
        json_type = {"Content-Type": "application/json"}
        return str(http(base, "POST", "/anymail/mailgun/tracking/", body, json_type))

    return [
        Load("api-create", 5, create_ticket),
        Load("api-read", 5, read_api),
        Load("tasks", 20, send_task),
        Load("broadcasts", 2, broadcast),
        Load("webhooks", 20, webhook),
    ]


def _processes(stack, realtime) -> dict[str, int]:
    """name -> process group id, for each long-running process of the stack."""
    groups = {"web": stack.web.proc.pid, "realtime": realtime.proc.pid}
    groups.update({f"worker {name}": worker.proc.pid for name, worker in stack.workers.items()})
    groups.update({f"beat {name}": beat.proc.pid for name, beat in stack.beats.items()})
    return groups


def _measure(stack, realtime, listeners, loads, minutes: float) -> int:
    groups = _processes(stack, realtime)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in groups}
    started = time.monotonic()
    end = started + minutes * 60
    print(f"load running for {minutes:g} min; memory sampled every {SAMPLE_EVERY:g} s", flush=True)
    next_report = started + 60
    while time.monotonic() < end:
        now = time.monotonic() - started
        for name, pgid in groups.items():
            samples[name].append((now, group_rss_mb(pgid)))
        if time.monotonic() >= next_report:
            next_report += 60
            sizes = ", ".join(f"{name} {points[-1][1]:.0f}" for name, points in samples.items())
            print(f"  {now / 60:4.1f} min: RSS MB {sizes}", flush=True)
        time.sleep(SAMPLE_EVERY)
    for load in loads:
        load.halt.set()
    for load in loads:
        load.join(30)
    _drain(stack, listeners, loads)
    return _report(stack, samples, listeners, loads, minutes)


def _stored_events(stack) -> int:
    return stack.scalar("SELECT COUNT(*) FROM mailops_mailevent")


def _drain(stack, listeners, loads, timeout: float = 60) -> None:
    """Wait (bounded) for the last tasks and broadcasts sent to be done and delivered, and the
    last webhook events to be stored (the workers run their store tasks)."""
    tasks = sum(load.outcomes["sent"] for load in loads if load.name == "tasks")
    broadcasts = sum(load.outcomes["sent"] for load in loads if load.name == "broadcasts")
    events = sum(load.outcomes["200"] for load in loads if load.name == "webhooks")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = stack.scalar("SELECT COUNT(*) FROM reliability_done WHERE k LIKE 'soak-%'")
        delivered = sum(1 for count in listeners.received.values() if count == WS_CLIENTS)
        if done >= tasks and delivered >= broadcasts and _stored_events(stack) >= events:
            return
        time.sleep(0.5)


def _report(stack, samples, listeners, loads, minutes: float) -> int:
    ok = True
    print(f"\nbench/soak.py: {minutes:g} min of steady load; steady part after the first fifth\n")
    print(f"{'process':<26} {'start MB':>9} {'end MB':>8} {'slope MB/h':>11} {'growth':>8}  verdict")
    for name, points in samples.items():
        steady = [p for p in points if p[0] >= points[-1][0] / 5]
        if len(steady) < 3 or steady[0][1] == 0:
            print(f"{name:<26} too few samples (process gone?)")
            ok = False
            continue
        slope, start = fit(steady)
        growth = slope * (steady[-1][0] - steady[0][0])
        flat = growth < min(FLAT_MB, FLAT_SHARE * start)
        ok &= flat
        print(
            f"{name:<26} {start:9.1f} {steady[-1][1]:8.1f} {slope * 3600:11.1f} {growth:+7.1f}M  "
            f"{'flat' if flat else 'GROWING'}"
        )
    print(f"\n{'load':<12} {'rate/s':>7}  outcomes")
    for load in loads:
        bad = {k: v for k, v in load.outcomes.items() if k not in ("200", "201", "200/200", "sent")}
        ok &= not bad
        print(f"{load.name:<12} {load.rate:7g}  {dict(load.outcomes)}")
        for failure in load.failures[:3]:
            print(f"    {failure}")
    sent = sum(load.outcomes["sent"] for load in loads if load.name == "broadcasts")
    complete = sum(1 for count in listeners.received.values() if count == WS_CLIENTS)
    ok &= complete == sent and not listeners.errors
    print(f"\nbroadcasts: {sent} sent, {complete} reached all {WS_CLIENTS} websocket clients")
    for error in listeners.errors[:3]:
        print(f"    {error}")
    done = stack.scalar("SELECT COUNT(*) FROM reliability_done WHERE k LIKE 'soak-%'")
    tasks = sum(load.outcomes["sent"] for load in loads if load.name == "tasks")
    print(f"tasks: {tasks} sent, {done} completed")
    ok &= done == tasks
    events = sum(load.outcomes["200"] for load in loads if load.name == "webhooks")
    stored = _stored_events(stack)
    print(f"webhook events: {events} acknowledged, {stored} stored (through the workers' store tasks)")
    ok &= stored == events
    print(
        "\nPASS: memory flat, no failed request, every task, broadcast and webhook event delivered"
        if ok
        else "\nFAILED"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
