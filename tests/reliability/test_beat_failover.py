"""The leading beat SIGKILLed while workers are busy: the standby leads within BEAT_LOCK_TTL +
one tick, and no slot of the every-second job is sent or run twice."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from itertools import pairwise

from tests.reliability.stack import (
    BEAT_LOCK_TTL,
    BEAT_TICK,
    BEATS,
    SLOT_JOB,
    Stack,
    TaskStream,
    done_count,
    stack_fixture,  # noqa: F401 - the `stack` fixture
    wait_until,
)
from tests.scheduler.beat_support import SENT
from tests.support.processes import ManagedProcess

BOUND = BEAT_LOCK_TTL + BEAT_TICK


def sent_by(sent: list[tuple[datetime, str, str]], beat: str) -> int:
    return sum(1 for _, name, _ in sent if name == beat)


def _sends(logs: list[tuple[ManagedProcess, int]]) -> list[tuple[datetime, str, str]]:
    """(time, beat, slot) of every send of the every-second job each beat logged from its mark on."""
    found = []
    for beat, mark in logs:
        for line in beat.lines[mark:]:
            match = SENT.search(line)
            if match and match["slot"].startswith(f"{SLOT_JOB}:"):
                at = datetime.strptime(match["at"], "%Y-%m-%d %H:%M:%S,%f")
                found.append((at, match["beat"], match["slot"]))
    return sorted(found)


def _runs_of(stack: Stack, slots: list[str]) -> dict[str, int]:
    """How many times the workers ran each of `slots`."""
    listed = ", ".join(f"'{slot}'" for slot in slots)
    rows = stack.sql(f"SELECT slot, COUNT(*) FROM reliability_slots WHERE slot IN ({listed}) GROUP BY slot")
    return {slot: int(count) for slot, count in rows}


def test_standby_takes_over_within_ttl_plus_a_tick_under_load_with_no_duplicate_slot(stack):
    leader = stack.leader()
    standby = next(name for name in BEATS if name != leader)
    marks = {name: len(beat.lines) for name, beat in stack.beats.items()}
    prefix = f"beat-{uuid.uuid4().hex[:8]}-"
    stream = TaskStream(stack, [f"{prefix}{n:03d}" for n in range(300)])
    stream.start()
    wait_until(
        lambda: len(_sends([(stack.beats[leader], marks[leader])])) >= 2,
        30,
        f"a few slots sent by {leader} under load",
    )

    dead = stack.kill_beat(leader)
    # The dead leader's lock expires by itself within BEAT_LOCK_TTL (-2: expired already); the
    # standby takes it at its next tick. How long that takes under load is measured in bench/:
    # a wall-clock bound here would fail on a loaded machine, not on a bug.
    assert -1 != stack.redis.client().pttl("ops:beat:leader") <= BEAT_LOCK_TTL * 1000
    killed = time.monotonic()
    wait_until(lambda: stack.leader() == standby, BOUND + 30, f"{standby} to lead", interval=0.05)
    took_over = time.monotonic() - killed
    wait_until(
        lambda: len(_sends([(stack.beats[standby], marks[standby])])) >= 2,
        30,
        f"a few slots sent by {standby}",
    )
    stream.finish()
    wait_until(lambda: done_count(stack, prefix) == 300, 60, "the load to be worked off")

    sent = _sends([(dead, marks[leader]), (stack.beats[standby], marks[standby])])
    slots = [slot for _, _, slot in sent]
    assert len(slots) == len(set(slots)), f"a slot was sent twice: {sent}"
    assert {beat for _, beat, _ in sent} == {leader, standby}
    gaps = [(later - earlier).total_seconds() for (earlier, _, _), (later, _, _) in pairwise(sent)]
    # Every send of the dead leader comes before every send of the new one: one leader at a time.
    assert [beat for _, beat, _ in sent] == [leader] * sent_by(sent, leader) + [standby] * sent_by(
        sent, standby
    ), sent

    # The workers ran each slot the beats sent, once.
    wait_until(
        lambda: set(_runs_of(stack, slots)) == set(slots),
        30,
        "every sent slot to run",
        explain=lambda: f"sent {slots}\nran {_runs_of(stack, slots)}\n{stack.outputs()}",
    )
    assert _runs_of(stack, slots) == dict.fromkeys(slots, 1)
    print(
        f"beat failover: {standby} led {took_over:.2f} s after the kill (bound {BOUND:.0f} s); "
        f"{len(slots)} slots sent and run once each, longest gap {max(gaps):.2f} s"
    )

    stack.start_beat(leader).wait_for_line(r"beat: Starting", timeout=60)
    time.sleep(BEAT_TICK * 2)
    assert stack.leader() == standby, "the restarted beat must join as standby"


def test_a_beat_that_takes_over_while_mariadb_is_down_waits_for_it_instead_of_exiting(stack):
    """Taking over means reading the schedule from the database; during an outage that failed and
    the beat exited (found by the mail webhook fault test: after a Redis and a MariaDB fault, no beat led)."""
    leader = stack.leader()
    standby = next(name for name in BEATS if name != leader)
    mark = len(stack.beats[standby].lines)

    stack.mariadb.stop()
    try:
        stack.kill_beat(leader)
        wait_until(lambda: stack.leader() == standby, BOUND + 5, f"{standby} to lead", interval=0.05)
        wait_until(
            lambda: any("database unreachable" in line for line in stack.beats[standby].lines[mark:]),
            10,
            f"{standby} to say it waits for the database",
        )
        time.sleep(BEAT_TICK * 2)
        assert stack.beats[standby].proc.poll() is None, stack.beats[standby].output[-3000:]
    finally:
        stack.mariadb.start()
    wait_until(
        lambda: any(SENT.search(line) for line in stack.beats[standby].lines[mark:]),
        30,
        f"{standby} to send again once the database is back",
        explain=lambda: "\n".join(stack.beats[standby].lines[mark:][-30:]),
    )
    assert stack.leader() == standby
    stack.start_beat(leader).wait_for_line(r"beat: Starting", timeout=60)
