"""The realtime servers' heartbeat board: which processes serve websockets now, and where."""

from __future__ import annotations

import json
import os
import socket
import time

from django.conf import settings

import keyvalue

BOARD = "realtime:servers"
# A server is alive while its last heartbeat is younger than this many check intervals.
STALE_INTERVALS = 3
# A server killed without its clean stop leaves its entry behind: a live server's heartbeat takes
# it off once it is this many seconds old (dead that long, it is no news to anyone).
FORGET_AFTER = 3600.0


def stale_after() -> float:
    """Seconds after its last heartbeat when a server counts as gone (at least 5 s)."""
    return max(STALE_INTERVALS * settings.REALTIME_LAYER_CHECK_INTERVAL, 5.0)


def beat(server_id: str, channel: str, connections: int) -> None:
    """Put or refresh this server's entry, forgetting long-dead and unreadable ones (blocking:
    the hub calls it from a thread)."""
    store, now = keyvalue.store(), time.time()
    heartbeat = {"pid": os.getpid(), "host": socket.gethostname(), "channel": channel, "seen": now}
    store.board_put(BOARD, server_id, json.dumps({**heartbeat, "connections": connections}))
    dead = [name for name, raw in store.board(BOARD).items() if _age(raw, now) > FORGET_AFTER]
    if dead:
        store.board_remove(BOARD, *dead)


def _age(raw: str, now: float) -> float:
    """Seconds since an entry's heartbeat; infinite for an unreadable entry."""
    try:
        age = now - float(json.loads(raw)["seen"])
    except (ValueError, TypeError, KeyError):
        return float("inf")
    return age if age == age else float("inf")  # NaN: unreadable too


def forget(server_id: str) -> None:
    keyvalue.store().board_remove(BOARD, server_id)


def alive_of(board: dict[str, str]) -> dict[str, dict]:
    """The board's live servers, by id; an unreadable entry counts as none."""
    now = time.time()
    fresh = {server_id: json.loads(raw) for server_id, raw in board.items() if _age(raw, now) < stale_after()}
    return {server_id: found for server_id, found in fresh.items() if isinstance(found.get("channel"), str)}


def alive() -> dict[str, dict]:
    """The live servers, by id (blocking)."""
    return alive_of(keyvalue.store().board(BOARD))


async def aalive() -> dict[str, dict]:
    """The live servers, by id, without blocking the event loop."""
    return alive_of(await keyvalue.aboard(BOARD))


def open_connections() -> int:
    """Websockets open on every live server, as of their last heartbeats."""
    return sum(int(server.get("connections") or 0) for server in alive().values())
