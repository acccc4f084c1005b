"""The small shared store of queue operations: attempt counters and heartbeat boards.

A board is a hash of name -> JSON state: the workers' heartbeats (`WORKERS_BOARD`) and the
beats' (`queueops.leadership`) both live on one.

With Redis (`REDIS_URL`) it is Redis itself, spoken to directly so a counter costs one pipelined
round trip. In the embedded profile (no Redis) the Django cache, the database cache there, stands
in: slower and not atomic, but that profile runs one machine and its broker never redelivers.
Nothing here imports Celery, so `queue_worker_alive` stays quick to start.
"""

from __future__ import annotations

import os
import select
from functools import cache as memoize

from django.conf import settings

PREFIX = "queueops:"
WORKERS_BOARD = PREFIX + "workers"
# A heartbeat that stops coming stays on the board this long, shown as lost, then goes.
FORGET_AFTER = 24 * 3600


class RedisStore:
    def __init__(self, url: str):
        import redis  # imported here: the embedded profile has no use for it

        self.client = redis.Redis.from_url(
            url,
            socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
            socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
            decode_responses=True,
        )

    def incr(self, key: str, ttl: int) -> int:
        pipe = self.client.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, ttl)
        return pipe.execute()[0]

    def incr_unread(self, key: str, ttl: int) -> None:
        """incr() without waiting for the new value: no round trip, for callers that know it.

        The commands go out on this process's own connection, on which Redis sends no replies
        (CLIENT REPLY OFF), so nothing is left to read. A send that fails raises, as incr() does.
        """
        connection = self._unread_connection()
        try:
            connection.send_packed_command(connection.pack_commands([("INCR", key), ("EXPIRE", key, ttl)]))
        except Exception:
            self._unread = None
            connection.disconnect()
            raise

    _unread = None  # (pid, connection): a forked child must not write on its parent's socket

    def _unread_connection(self):
        if self._unread is not None:
            pid, connection = self._unread
            # Redis never writes on this connection: readable means closed (a restart, a
            # timeout), and a send there could vanish without an error. Open a new one.
            if pid == os.getpid():
                if connection._sock is not None and not select.select([connection._sock], [], [], 0)[0]:
                    return connection
                connection.disconnect()
        pool = self.client.connection_pool
        connection = pool.connection_class(**pool.connection_kwargs)
        connection.connect()
        connection.send_command("CLIENT", "REPLY", "OFF")
        self._unread = (os.getpid(), connection)
        return connection

    def board_put(self, board: str, name: str, value: str) -> None:
        self.client.hset(board, name, value)

    def board_remove(self, board: str, *names: str) -> None:
        if names:
            self.client.hdel(board, *names)

    def board(self, board: str) -> dict[str, str]:
        return self.client.hgetall(board)

    def board_get(self, board: str, name: str) -> str | None:
        return self.client.hget(board, name)


class CacheStore:
    """The same contract on the Django cache (values are strings; the board is one dict)."""

    def __init__(self):
        from django.core.cache import cache

        self.cache = cache

    def incr(self, key: str, ttl: int) -> int:
        self.cache.add(key, 0, ttl)
        try:
            return self.cache.incr(key)
        except ValueError:  # expired between add and incr
            self.cache.set(key, 1, ttl)
            return 1

    def board_put(self, board: str, name: str, value: str) -> None:
        entries = self.board(board)
        entries[name] = value
        self.cache.set(board, entries, None)

    def board_remove(self, board: str, *names: str) -> None:
        entries = self.board(board)
        removed = [entries.pop(name, None) for name in names]
        if any(value is not None for value in removed):
            self.cache.set(board, entries, None)

    def board(self, board: str) -> dict[str, str]:
        return dict(self.cache.get(board) or {})

    def board_get(self, board: str, name: str) -> str | None:
        return self.board(board).get(name)


@memoize
def _store_for(url: str) -> RedisStore | CacheStore:
    return RedisStore(url) if url else CacheStore()


def store() -> RedisStore | CacheStore:
    """The store of this profile (one client per process; redis-py reconnects after a fork)."""
    return _store_for(settings.REDIS_URL)
