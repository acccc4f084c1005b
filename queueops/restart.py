"""Restarting every worker: ask each to finish its tasks and exit, then watch the board for its return.

Celery's remote-control `shutdown` is a warm shutdown (stop taking messages, finish the running
tasks, exit) and the process manager starts a new process with the code deployed now;
`pool_restart` would replace only the pool's children, never the main process that holds the
consumer, settings and bootsteps. A worker is back when its hostname's heartbeat comes from a
process that started after the request: another pid or a later start time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from queueops.broker import connected
from queueops.heartbeat import WorkerBeat, worker, workers


class BoardUnreadable(Exception):
    """The heartbeat board could not be read before any worker was asked."""


@dataclass
class Outcome:
    back: dict[str, WorkerBeat] = field(default_factory=dict)  # hostname -> its new heartbeat
    missing: list[str] = field(default_factory=list)


def request_shutdown(hostnames: list[str]) -> None:
    """Broadcast the warm shutdown to exactly these workers (no reply: they are going away);
    BrokerUnavailable, with nothing sent, when the broker does not answer."""
    from celery import current_app as app

    with connected(for_write=True, unanswered="; no worker was asked") as conn:
        app.control.broadcast("shutdown", destination=hostnames, reply=False, connection=conn)


def is_new(before: WorkerBeat, now: WorkerBeat | None) -> bool:
    if now is None or not now.alive:
        return False
    return now.pid != before.pid or now.started_at > before.started_at


def restart(
    timeout: float, on_back: Callable[[WorkerBeat], None] = lambda beat: None, poll: float = 0.5
) -> tuple[list[WorkerBeat], Outcome]:
    """Restart every live worker; (the workers asked, who came back and who did not in `timeout`)."""
    try:
        asked = workers()
    except Exception as exc:  # the store (Redis) down: nobody to ask, nobody asked
        raise BoardUnreadable(
            f"worker heartbeats unreadable ({type(exc).__name__}); no worker was asked"
        ) from exc
    if not asked:
        return [], Outcome()
    request_shutdown([beat.hostname for beat in asked])
    outcome = Outcome()
    deadline = time.monotonic() + timeout
    waiting = {beat.hostname: beat for beat in asked}
    while waiting:
        for hostname, before in list(waiting.items()):
            now = _read(hostname)
            if is_new(before, now):
                outcome.back[hostname] = now
                del waiting[hostname]
                on_back(now)
        if not waiting or time.monotonic() >= deadline:
            break
        time.sleep(poll)
    outcome.missing = sorted(waiting)
    return asked, outcome


def _read(hostname: str) -> WorkerBeat | None:
    try:
        return worker(hostname)
    except Exception:  # the store blipped while the workers restart: read again at the next poll
        return None
