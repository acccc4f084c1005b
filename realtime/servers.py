"""The realtime servers' heartbeat board: which processes serve websockets now, and where.

Each websocket process (its hub) puts an entry on one keyvalue board when it starts and
refreshes it every `REALTIME_LAYER_CHECK_INTERVAL` while it serves: its pid and host, its
channel on the channel layer (where broadcasts reach it), its open websockets and the time.
A server that stops cleanly takes its entry off; one that dies stops refreshing it, and is
no longer alive once its entry is older than `stale_after()`, and its entry is taken off by a
live server's beat once older than keyvalue.BOARD_FORGET_AFTER (as workers' and beats' are).

Broadcasts go to the channel of every live server (realtime.fanout), `/health/realtime`
fails when no server is alive, and the open-connection count is the sum over live servers.
"""

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


def stale_after() -> float:
    """Seconds after its last heartbeat when a server counts as gone (at least 5 s)."""
    return max(STALE_INTERVALS * settings.REALTIME_LAYER_CHECK_INTERVAL, 5.0)


def entry(channel: str, connections: int) -> str:
    """This process's heartbeat, as the board keeps it."""
    return json.dumps(
        {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "channel": channel,
            "connections": connections,
            "seen": time.time(),
        }
    )


def beat(server_id: str, channel: str, connections: int) -> None:
    """Put or refresh this server's entry, and take off the entries of servers long gone
    (blocking: the hub calls it from a thread)."""
    store = keyvalue.store()
    store.board_put(BOARD, server_id, entry(channel, connections))
    # A server killed (SIGKILL, OOM) never takes its entry off; each restart has a new id, so
    # without this the board, read whole by every broadcast, would grow for ever.
    gone = [name for name, raw in store.board(BOARD).items() if _gone(raw)]
    store.board_remove(BOARD, *gone)


def _gone(raw: str, now: float | None = None) -> bool:
    """An entry last refreshed over keyvalue.BOARD_FORGET_AFTER ago, or unreadable."""
    now = time.time() if now is None else now
    try:
        return now - float(json.loads(raw)["seen"]) > keyvalue.BOARD_FORGET_AFTER
    except (ValueError, TypeError, KeyError):
        return True


def forget(server_id: str) -> None:
    keyvalue.store().board_remove(BOARD, server_id)


def alive_of(board: dict[str, str], now: float | None = None) -> dict[str, dict]:
    """The board's live servers, by id; an unreadable entry counts as none."""
    now = time.time() if now is None else now
    alive = {}
    for server_id, raw in board.items():
        try:
            found = json.loads(raw)
            fresh = now - float(found["seen"]) < stale_after()
        except (ValueError, TypeError, KeyError):
            continue
        if fresh and isinstance(found.get("channel"), str):
            alive[server_id] = found
    return alive


def alive() -> dict[str, dict]:
    """The live servers, by id (blocking)."""
    return alive_of(keyvalue.store().board(BOARD))


async def aalive() -> dict[str, dict]:
    """The live servers, by id, without blocking the event loop."""
    return alive_of(await keyvalue.aboard(BOARD))


def open_connections() -> int:
    """Websockets open on every live server, as of their last heartbeats."""
    return sum(int(server.get("connections") or 0) for server in alive().values())
