"""Real `celery beat` processes for the scheduler tests, and parsing of what they sent."""

from __future__ import annotations

import re
from datetime import datetime

from tests.support.celery_worker import child_env
from tests.support.processes import BIN, ManagedProcess

SENT = re.compile(
    r"\[(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): INFO/\S+\] "
    r"beat (?P<beat>\S+): sending \S+ slot (?P<slot>\S+)"
)


def start_beat(name: str, ttl: float, tick: float, **extra: str) -> ManagedProcess:
    env = child_env(BEAT_NAME=name, BEAT_LOCK_TTL=str(ttl), BEAT_MAX_INTERVAL=str(tick), **extra)
    argv = [str(BIN / "celery"), "-A", "opsproject", "beat", "--loglevel=INFO", "--pidfile="]
    return ManagedProcess(argv, env=env)


def sends(*beats: ManagedProcess, job: str) -> list[tuple[datetime, str, str]]:
    """(time, beat, slot) of every send of `job` logged by the given beats, in time order."""
    found = []
    for beat in beats:
        for line in beat.lines:
            match = SENT.search(line)
            if match and match["slot"].startswith(f"{job}:"):
                at = datetime.strptime(match["at"], "%Y-%m-%d %H:%M:%S,%f")
                found.append((at, match["beat"], match["slot"]))
    return sorted(found)
