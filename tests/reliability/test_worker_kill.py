"""A worker SIGKILLed in the middle of a steady stream of 500 tasks: all complete, none twice.

The killed worker's unfinished deliveries stay unacknowledged in Redis and come back to the
other worker once the visibility timeout passes; the tasks are idempotent by key, so a task the
killed worker had already completed may run again but completes once.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict

from tests.reliability.stack import (
    VISIBILITY_TIMEOUT,
    WORKERS,
    Stack,
    TaskStream,
    done_count,
    stack_fixture,  # noqa: F401 - the `stack` fixture
    wait_until,
)

TASKS = 500
KILL_AFTER_DONE = 150


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


def test_a_worker_sigkilled_mid_stream_loses_no_task_and_completes_none_twice(stack):
    prefix = f"kill-{uuid.uuid4().hex[:8]}-"
    keys = [f"{prefix}{n:03d}" for n in range(TASKS)]
    victim = WORKERS[0]
    stream = TaskStream(stack, keys)  # 100 tasks/s: a stream the workers keep up with
    started = time.monotonic()
    stream.start()

    wait_until(lambda: done_count(stack, prefix) >= KILL_AFTER_DONE, 60, f"{KILL_AFTER_DONE} tasks done")
    done_at_kill = done_count(stack, prefix)
    stack.kill_worker(victim)
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
    assert done_at_kill < TASKS, "the kill came after the stream had finished"

    done = {row[0] for row in stack.sql(f"SELECT k FROM reliability_done WHERE k LIKE '{prefix}%'")}
    assert done == set(keys)
    runs = _runs_by_key(stack, prefix)
    assert set(runs) == set(keys)
    # A key ran more than once only because the killed worker had it: every run before the
    # last one was the victim's.
    repeated = {key: workers for key, workers in runs.items() if len(workers) > 1}
    stray = {key: workers for key, workers in repeated.items() if set(workers[:-1]) != {victim}}
    assert stray == {}, f"tasks run twice without a killed worker to explain it: {stray}"
    print(
        f"worker kill: {TASKS} done once each; killed at {done_at_kill} done, "
        f"{len(repeated)} redelivered; all done {finished - killed:.1f} s after the kill, "
        f"{finished - started:.1f} s in all"
    )
