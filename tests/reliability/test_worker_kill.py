"""A worker SIGKILLed in the middle of a steady stream of 500 tasks: all complete, none twice.

The killed worker's unfinished deliveries stay unacknowledged in Redis and come back to the
other worker once the visibility timeout passes; the tasks are idempotent by key, so a task the
killed worker had already completed may run again but completes once.

When it kills matters: kombu's Redis transport BRPOPs a message and records it as
unacknowledged (qos.append: ZADD unacked_index, HSET unacked) only in a second round trip, so a
worker killed between the two loses that one message (kombu issue #305; docs/RUNBOOK.md). The
test therefore pauses the stream and kills the stopped (SIGSTOP) worker only when Redis shows its
consuming connection blocked in BRPOP, which has popped nothing (kombu sends the next BRPOP only
after recording the last message), with a task still running in a pool child, so what it tests
is the redelivery of in-flight tasks, not that window.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from tests.reliability.stack import (
    VISIBILITY_TIMEOUT,
    WORKERS,
    Stack,
    TaskStream,
    done_count,
    stack_fixture,  # noqa: F401 - the `stack` fixture
    wait_until,
)
from tests.support.processes import group_members

TASKS = 500
KILL_AFTER_DONE = 150
# Tasks long enough to be running in a pool child at the kill, of three lengths: a worker's two
# children, given two tasks at once, finish apart, and it waits in BRPOP with one still running.
TASK_SECONDS = (0.02, 0.05, 0.08)
DRAIN_TIMEOUT = 30.0  # seconds for the workers to fetch what the stream sent, once paused
FREEZE_TIMEOUT = 10.0  # seconds, after that, to find a safe moment to kill


def _runs_by_key(stack: Stack, prefix: str) -> dict[str, list[str]]:
    """The workers that started each key, in the order they started it."""
    runs = defaultdict(list)
    rows = stack.sql(f"SELECT k, worker FROM reliability_runs WHERE k LIKE '{prefix}%' ORDER BY id")
    for key, worker in rows:
        runs[key].append(worker)
    return runs


def _missing(stack: Stack, prefix: str, keys: list[str]) -> str:
    done = {row[0] for row in stack.sql(f"SELECT k FROM reliability_done WHERE k LIKE '{prefix}%'")}
    runs = _runs_by_key(stack, prefix)
    missing = {key: runs.get(key, []) for key in keys if key not in done}
    return f"not done (with their runs): {missing}\n{stack.broker_state()}\n{stack.outputs()}"


def _in_flight(stack: Stack, prefix: str, worker: str) -> list[str]:
    """Keys `worker` started and nobody completed."""
    rows = stack.sql(
        f"SELECT r.k FROM reliability_runs r LEFT JOIN reliability_done d ON d.k = r.k "
        f"WHERE r.k LIKE '{prefix}%' AND r.worker = '{worker}' AND d.k IS NULL"
    )
    return [row[0] for row in rows]


def _all_stopped(pids: list[int]) -> bool:
    """Every process of `pids` is stopped (state T) or gone."""
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if stat[stat.rfind(")") + 2] not in "TtZ":
            return False
    return True


def _blocked_in_brpop(clients: list[dict]) -> list[dict]:
    """The consuming (BRPOP) connections among `clients` when all of them are blocked, else []."""
    consuming = [client for client in clients if client["cmd"] == "brpop"]
    return consuming if consuming and all("b" in client["flags"] for client in consuming) else []


def _freeze_at_a_safe_moment(stack: Stack, victim: str, stream: TaskStream, prefix: str):
    """Leave the stream paused and the victim's whole group stopped at a moment its consuming
    connection is blocked in BRPOP (it holds no message it popped without recording it) while
    one of its pool children runs a task. Returns (keys in flight, its BRPOP clients, the tries
    that found no such moment)."""
    process = stack.workers[victim]
    tries: Counter[str] = Counter()
    stream.pause()
    try:
        # A loaded machine may have let a backlog build: the workers drain it first.
        wait_until(lambda: stack.waiting() == 0, DRAIN_TIMEOUT, "the queue to drain", 0.01)
        deadline = time.monotonic() + FREEZE_TIMEOUT
        ports = stack.redis_ports([process.proc.pid])
        while time.monotonic() < deadline:
            # Everything the paused stream sent has been fetched by a worker, and the victim
            # (still running: this only saves stopping it in vain) waits in BRPOP...
            if stack.waiting() or not _blocked_in_brpop(stack.redis_clients(ports)):
                tries["busy"] += 1
                time.sleep(0.003)
                continue
            process.signal(signal.SIGSTOP)
            pids = group_members(process.proc.pid)
            wait_until(lambda pids=pids: _all_stopped(pids), 5, f"{victim} to stop", 0.001)
            # ...and, now that it is stopped, still does: it popped nothing it did not record.
            ports = stack.redis_ports(pids)
            if not (consuming := _blocked_in_brpop(stack.redis_clients(ports))):
                tries["not blocked once stopped"] += 1
                process.signal(signal.SIGCONT)
                continue
            if in_flight := _in_flight(stack, prefix, victim):
                return in_flight, consuming, tries
            tries["nothing in flight"] += 1
            process.signal(signal.SIGCONT)
            sent = stream.sent
            stream.resume()  # let one more batch in
            wait_until(lambda sent=sent: stream.sent > sent or not stream.is_alive(), 5, "a batch", 0.002)
            stream.pause()
    except BaseException:
        process.signal(signal.SIGCONT)
        stream.resume()
        raise
    process.signal(signal.SIGCONT)
    stream.resume()
    pytest.fail(
        f"no safe moment to kill {victim} in {FREEZE_TIMEOUT} s: its consuming connection blocked "
        f"in BRPOP with a task in flight ({dict(tries)})\n{stack.broker_state()}"
    )


def test_a_worker_sigkilled_mid_stream_loses_no_task_and_completes_none_twice(stack):
    prefix = f"kill-{uuid.uuid4().hex[:8]}-"
    keys = [f"{prefix}{n:03d}" for n in range(TASKS)]
    victim = WORKERS[0]
    # 40 tasks/s of 50 ms on average: a stream the four pool processes keep up with.
    stream = TaskStream(stack, keys, batch=4, every=0.1, seconds=TASK_SECONDS)
    started = time.monotonic()
    stream.start()

    wait_until(lambda: done_count(stack, prefix) >= KILL_AFTER_DONE, 60, f"{KILL_AFTER_DONE} tasks done")
    frozen = time.monotonic()
    in_flight, consuming, tries = _freeze_at_a_safe_moment(stack, victim, stream, prefix)
    frozen = time.monotonic() - frozen
    done_at_kill = done_count(stack, prefix)
    sent_at_kill = stream.sent
    unacked_at_kill = stack.redis.client().hlen("unacked")
    # SIGKILL to the whole (stopped) group: main process and pool. Only a beat slot could still
    # reach its blocked BRPOP meanwhile (and be lost); no key of the paused stream can.
    stack.kill_worker(victim)
    stream.resume()
    killed = time.monotonic()
    restarted = stack.start_worker(victim)
    stream.finish()
    restarted.wait_for_line(r"ready\.", timeout=90)

    wait_until(
        lambda: done_count(stack, prefix) == TASKS,
        60 + VISIBILITY_TIMEOUT,
        f"all {TASKS} tasks done",
        explain=lambda: _missing(stack, prefix, keys),
    )
    finished = time.monotonic()
    assert 0 < sent_at_kill < TASKS, "the kill came after the stream had finished"
    assert done_at_kill < TASKS

    done = {row[0] for row in stack.sql(f"SELECT k FROM reliability_done WHERE k LIKE '{prefix}%'")}
    assert done == set(keys)
    runs = _runs_by_key(stack, prefix)
    assert set(runs) == set(keys)
    # The tasks running in the killed pool came back and ran again.
    assert unacked_at_kill >= len(in_flight) > 0
    not_rerun = {key: runs[key] for key in in_flight if len(runs[key]) < 2}
    assert not_rerun == {}, f"tasks in flight at the kill that never ran again: {not_rerun}"
    # A key ran more than once only because the killed worker had it: every run before the
    # last one was the victim's.
    repeated = {key: workers for key, workers in runs.items() if len(workers) > 1}
    stray = {key: workers for key, workers in repeated.items() if set(workers[:-1]) != {victim}}
    assert stray == {}, f"tasks run twice without a killed worker to explain it: {stray}"
    print(
        f"worker kill: {TASKS} done once each; killed at {done_at_kill} done, {sent_at_kill} sent, "
        f"{len(in_flight)} in flight in its pool ({unacked_at_kill} unacked in all), BRPOP blocked on "
        f"{[client['addr'] for client in consuming]}, found in {frozen:.2f} s ({dict(tries)}); "
        f"{len(repeated)} redelivered; "
        f"all done {finished - killed:.1f} s after the kill, {finished - started:.1f} s in all"
    )
