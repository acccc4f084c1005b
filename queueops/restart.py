"""Restarting every worker: ask each to finish its tasks and exit, then watch the board for its return.

Celery's remote-control `shutdown` is a warm shutdown: the worker stops taking messages,
finishes the tasks it runs (late acks: each is acknowledged once done) and exits. The process
manager brings it back (compose's `restart: unless-stopped`, Kubernetes' restartPolicy Always),
a new process that loads the code and settings deployed now. `pool_restart` was not chosen: it
replaces only the pool's children, never the main process that holds the consumer, the
settings and the bootsteps, and it needs `worker_pool_restarts` switched on.

A worker is back when its hostname's heartbeat (queueops.heartbeat) comes from a process that
started after the request: another pid or a later start time (a container's main process may
well get the same pid again).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from kombu.exceptions import OperationalError

from queueops.broker import BrokerUnavailable
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

    with app.connection_for_write() as conn:
        try:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=settings.REDIS_SOCKET_TIMEOUT)
            app.control.broadcast("shutdown", destination=hostnames, reply=False, connection=conn)
        except (OperationalError, OSError, *conn.connection_errors, *conn.channel_errors) as exc:
            raise BrokerUnavailable(
                f"broker unreachable ({type(exc).__name__}); no worker was asked"
            ) from exc


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
