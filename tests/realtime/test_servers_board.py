"""The realtime servers' board keeps no entry of a long-dead server.

A server killed without its clean stop (SIGKILL, the OOM killer, a node lost) never takes its
entry off. Each deploy or crash would leave one more entry for every broadcast and every
/health/realtime probe to read back: a live server's heartbeat forgets entries that have been
dead for longer than FORGET_AFTER, and unreadable ones.
"""

from __future__ import annotations

import json
import time

import keyvalue
from realtime import servers


def _entry(seen: float) -> str:
    return json.dumps(
        {"pid": 1, "host": "gone", "channel": "specific.gone!x", "connections": 0, "seen": seen}
    )


def test_a_heartbeat_forgets_long_dead_and_unreadable_entries_and_keeps_the_rest():
    store = keyvalue.store()
    store.delete(servers.BOARD)
    try:
        now = time.time()
        store.board_put(servers.BOARD, "dead-long-ago", _entry(now - servers.FORGET_AFTER - 60))
        store.board_put(servers.BOARD, "garbage", "{not json")
        store.board_put(servers.BOARD, "just-stale", _entry(now - servers.stale_after() - 1))
        store.board_put(servers.BOARD, "alive", _entry(now))
        servers.beat("me", "specific.me!y", 3)
        assert sorted(store.board(servers.BOARD)) == ["alive", "just-stale", "me"]
        assert sorted(servers.alive()) == ["alive", "me"]
    finally:
        store.delete(servers.BOARD)
