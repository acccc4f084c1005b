"""Redis restarted under the running stack: the web keeps answering (a clear 503 only for what
needed Redis), /health fails and passes again, every enqueue acknowledged to its caller runs, and
websocket broadcasting resumes without restarting anything.

The enqueue test kills Redis (SIGKILL: only its fsync-always AOF survives); the broadcast test
stops it gracefully (SHUTDOWN). Both start it again on the same port.

When the enqueue test kills Redis matters, as in test_worker_kill: a worker's BRPOP pops a
message and kombu records it as unacknowledged only in a second round trip, so a message popped
within a millisecond or two of the crash is lost with the connection (kombu issue #305,
docs/RUNBOOK.md); a CI run hit that window once in about eight runs. So the enqueues pause, the
queue empties (every acknowledged message run or recorded as unacknowledged), Redis is killed,
and the enqueues resume at once: the web meets the outage, and its restart, under load.
"""

from __future__ import annotations

import asyncio
import time

from tests.realtime.support import PusherClient
from tests.reliability.stack import (
    MARK_JOB,
    Stack,
    Traffic,
    stack_fixture,  # noqa: F401 - the `stack` fixture
    wait_until,
)
from tests.reliability.tasks import FEED

# Enqueues through the web: needs Redis (the broker) and the database.
ENQUEUE = ("POST", f"/api/ops/schedules/{MARK_JOB}/run/")
# Needs only the database.
LIST_FAILED = ("GET", "/api/ops/failed-jobs/")
OUTAGE = 2.0  # seconds Redis stays down
AFTER_OUTAGE = 10  # broadcasts that must all arrive once one got through again


def _health_until(stack: Stack, status: int, timeout: float) -> list[int | None]:
    """Probe /health until it answers `status`; every status seen, in order."""
    seen = []

    def probe():
        seen.append(stack.health().status)
        return seen[-1] == status

    wait_until(probe, timeout, f"/health to answer {status}", interval=0.1)
    return seen


def _acknowledged(traffic: Traffic) -> list[str]:
    """Task ids the web handed back for enqueues it accepted."""
    return [
        reply.body["task_id"] for path, reply in traffic.replies if path == ENQUEUE[1] and reply.status == 200
    ]


def _ran(stack: Stack, task_ids: list[str]) -> int:
    listed = ", ".join(f"'{task_id}'" for task_id in task_ids)
    return stack.scalar(f"SELECT COUNT(*) FROM reliability_done WHERE k IN ({listed})")


def test_a_redis_crash_under_enqueue_load_loses_no_acknowledged_enqueue(stack):
    traffic = Traffic(stack, [ENQUEUE, LIST_FAILED])
    traffic.start()
    wait_until(lambda: len(_acknowledged(traffic)) >= 20, 30, "enqueues before the crash")
    traffic.pause()
    wait_until(lambda: stack.waiting() == 0, 30, "the workers to take every message")
    time.sleep(0.2)  # the last popped message recorded as unacknowledged (one round trip)

    stack.redis.stop(kill=True)
    traffic.resume()
    went_down = _health_until(stack, 503, 15)
    time.sleep(OUTAGE)
    stack.redis.start()
    came_back = _health_until(stack, 200, 30)
    time.sleep(1)  # enqueues after the restart too
    traffic.finish()

    # Known upstream problem (kombu 5.7): a worker holding unacknowledged messages when Redis
    # dies may exit with "Unrecoverable error: AttributeError" while restoring them. In
    # production its container restarts (compose: unless-stopped); here the stack does that.
    exited = stack.restart_exited_workers()
    acknowledged = _acknowledged(traffic)
    wait_until(
        lambda: _ran(stack, acknowledged) == len(acknowledged),
        60,
        f"all {len(acknowledged)} acknowledged enqueues to run",
        explain=lambda: f"{_ran(stack, acknowledged)} ran\n{stack.broker_state()}\n{stack.outputs()}",
    )
    exited += stack.restart_exited_workers()  # one that failed only once reconnected
    assert traffic.bad() == []
    assert traffic.statuses(ENQUEUE[1]) == {200, 503}
    assert traffic.statuses(LIST_FAILED[1]) == {200}
    print(
        f"redis crash: {len(acknowledged)} acknowledged enqueues all ran; "
        f"/health {went_down[-1]} after {len(went_down)} probe(s), {came_back[-1]} again after "
        f"{len(came_back)}; {len(traffic.replies)} requests, none failed unclearly; "
        f"workers that exited and were restarted: {exited or 'none'}"
    )


class Announcer:
    """Sends numbered broadcasts through the workers; remembers which sends the broker took."""

    def __init__(self, stack: Stack):
        self.producer = stack.producer()
        self.sent: list[int] = []
        self.next = 0

    def send(self) -> int | None:
        self.next += 1
        try:
            self.producer.send_task("reliability.announce", args=[self.next])
        except Exception:
            return None
        self.sent.append(self.next)
        return self.next


async def _ticks(client: PusherClient, seconds: float) -> list[int]:
    return [frame["data"]["seq"] for frame in await client.quiet(seconds) if frame["event"] == "tick"]


async def _first_tick_from(client: PusherClient, announcer: Announcer, timeout: float) -> int:
    """Announce every 0.2 s until `client` receives one; the number it received."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await asyncio.to_thread(announcer.send)
        if ticks := await _ticks(client, 0.2):
            return ticks[0]
    raise AssertionError(f"no broadcast arrived within {timeout} s of Redis coming back")


def test_broadcasting_resumes_after_a_redis_restart_without_restarting_anything(stack):
    announcer = Announcer(stack)

    async def scenario():
        clients = [await PusherClient.connect(stack.ws_url) for _ in range(2)]
        for client in clients:
            await client.subscribe(FEED)
        await asyncio.to_thread(announcer.send)
        for client in clients:
            assert (await client.expect("tick", FEED, timeout=15))["data"]["seq"] == 1

        mark = len(stack.web.lines)
        await asyncio.to_thread(stack.redis.stop)
        await asyncio.to_thread(stack.web.wait_for_line, "channel layer unavailable", 20, mark)
        for client in clients:  # the websockets themselves stay up
            await client.send("pusher:ping")
            await client.expect("pusher:pong")
        await asyncio.to_thread(stack.redis.start)
        await asyncio.to_thread(stack.web.wait_for_line, "channel layer back after", 90, mark)

        await _first_tick_from(clients[0], announcer, 90)
        await _ticks(clients[1], 1.0)  # whatever straggled in before
        expected = [await asyncio.to_thread(announcer.send) for _ in range(AFTER_OUTAGE)]
        assert None not in expected, "the broker refused a send after the restart"
        for client in clients:
            received = []
            deadline = time.monotonic() + 20
            while len(received) < AFTER_OUTAGE and time.monotonic() < deadline:
                received += [seq for seq in await _ticks(client, 0.5) if seq in expected]
            # Several pool processes send them, so they may interleave; each arrives once.
            assert sorted(received) == expected
            await client.close()
        newcomer = await PusherClient.connect(stack.ws_url)
        await newcomer.subscribe(FEED)
        seq = await asyncio.to_thread(announcer.send)
        assert (await newcomer.expect("tick", FEED, timeout=15))["data"]["seq"] == seq
        await newcomer.close()

    asyncio.run(scenario())
    stack.restart_exited_workers()  # see the crash test: a known kombu problem, not this test's
    assert stack.health().status == 200
    print(
        f"redis restart: broadcasting resumed; {AFTER_OUTAGE} later broadcasts reached both clients once each"
    )
