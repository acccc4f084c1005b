"""The realtime servers' heartbeat board: which processes serve websockets now, and where.

Each websocket process (its hub) puts an entry on one keyvalue board when it starts and
refreshes it every `REALTIME_LAYER_CHECK_INTERVAL` while it serves: its pid and host, its
channel on the channel layer (where broadcasts reach it), its open websockets and the time.
A server that stops cleanly takes its entry off; one that dies stops refreshing it, and is
no longer alive once its entry is older than `stale_after()`.

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
    """Put or refresh this server's entry (blocking: the hub calls it from a thread)."""
    keyvalue.store().board_put(BOARD, server_id, entry(channel, connections))


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
