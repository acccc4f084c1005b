"""The one key-value store the apps share: Redis where `REDIS_URL` is set, else the Django cache.

Counters, counter hashes, boards (a hash of name -> string state, such as the workers' and
the beats' heartbeats) and leases (a key one holder takes for a while, such as beat's leader
lock) live here, for every app that needs state shared between processes
(queueops, scheduler, realtime, operations). With Redis each call is one pipelined round trip
and atomic. In the embedded profile (`make run`, no Redis) the Django cache (the database cache
there, never culled: settings.CACHES) stands in: the same contract, slower; its read-modify-
writes (counters, counter hashes, boards) hold a file lock so concurrent processes lose no
update. Leases there are not atomic, which is fine for the one beat that profile runs.

Nothing here imports an app or Celery, so commands that only read a board start quickly.
"""

from __future__ import annotations

import asyncio
import fcntl
import weakref
from contextlib import contextmanager, nullcontext
from functools import cache as memoize
from pathlib import Path

from django.conf import settings

from opsproject.redis_retry import async_retry, retry

# A heartbeat that stops coming stays on its board this long (seconds), shown as lost, then goes.
BOARD_FORGET_AFTER = 24 * 3600

# Take a free lease or renew one's own, in one step: a holder whose lease expired cannot renew
# over a new holder's (a compare-and-expire).
_LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisKeyValue:
    """The store on Redis (`client` is a redis-py client with decoded strings).

    A call waits at most REDIS_SOCKET_TIMEOUT for Redis: a lost connection is retried once,
    a timeout is not (opsproject/redis_retry.py)."""

    def __init__(self, url: str):
        import redis  # imported here: the embedded profile has no use for it

        self.client = redis.Redis.from_url(
            url,
            socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
            socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
            retry=retry(),
            decode_responses=True,
        )
        self._lease = self.client.register_script(_LEASE)
        self._release = self.client.register_script(_RELEASE)

    def incr(self, key: str, ttl: int) -> int:
        """Add one to the counter `key` (kept `ttl` seconds after its last change); its new value."""
        pipe = self.client.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, ttl)
        return pipe.execute()[0]

    def counts_add(self, key: str, counts: dict[str, int], ttl: int | None = None) -> None:
        """Add each of `counts` to the counter hash `key` (kept `ttl` seconds, or for ever)."""
        self.counts_add_many([(key, counts, ttl)])

    def counts_add_many(self, updates: list[tuple[str, dict[str, int], int | None]]) -> None:
        """`counts_add` for each (key, counts, ttl) of `updates`, in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for key, counts, ttl in updates:
            for field, amount in counts.items():
                pipe.hincrby(key, field, amount)
            if ttl is not None:
                pipe.expire(key, ttl)
        pipe.execute()

    def counts(self, *keys: str) -> list[dict[str, int]]:
        """The counter hashes `keys`, in order (an absent one is empty)."""
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        return [{field: int(value) for field, value in raw.items()} for raw in pipe.execute()]

    def delete(self, *keys: str) -> None:
        if keys:
            self.client.delete(*keys)

    def board_put(self, board: str, name: str, value: str) -> None:
        self.client.hset(board, name, value)

    def board_remove(self, board: str, *names: str) -> None:
        if names:
            self.client.hdel(board, *names)

    def board(self, board: str) -> dict[str, str]:
        return self.client.hgetall(board)

    def board_get(self, board: str, name: str) -> str | None:
        return self.client.hget(board, name)

    def get(self, key: str) -> str | None:
        return self.client.get(key)

    def add(self, key: str, value: str, ttl: float) -> bool:
        """Set `key` for `ttl` seconds unless it exists; whether it was set."""
        return bool(self.client.set(key, value, nx=True, ex=max(1, int(ttl))))

    def lease(self, key: str, holder: str, ttl: float) -> bool:
        """Take the lease `key` for `holder` if free, or renew it if `holder` has it; False if another has."""
        return bool(self._lease(keys=[key], args=[holder, int(ttl * 1000)]))

    def release(self, key: str, holder: str) -> bool:
        """Give the lease `key` up if `holder` has it."""
        return bool(self._release(keys=[key], args=[holder]))


class CacheKeyValue:
    """The same contract on the Django cache (a counter hash or a board is one dict entry)."""

    def __init__(self):
        from django.core.cache import cache

        self.cache = cache

    @contextmanager
    def _exclusive(self):
        """One read-modify-write of the cache at a time, across the processes of this machine.

        A lock file (flock) rather than a lock entry in the cache (`add` with an expiry) or a
        transaction on the cache table: the kernel releases it when its holder dies, so there is
        no expiry to choose (too short lets a slow holder be overtaken, too long stalls everyone
        after a crash) and no polling; the cache table has no model to lock rows through. Every
        process of the Redis-less profile shares VAR_DIR on the one machine that profile runs on
        (production requires REDIS_URL). The updates it guards are a few milliseconds long.
        """
        from django.db import router, transaction

        path = Path(settings.VAR_DIR) / "keyvalue.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        # The transaction first, then the lock: a caller's own transaction (inside which this is
        # a savepoint) commits the update only later, so a process reading before that would add
        # to the old value. On SQLite (transaction_mode IMMEDIATE) the BEGIN waits for that
        # commit; and nobody waits for the database while holding the lock, so no deadlock.
        # Only the database cache has a transaction to take (the tests also run this on Redis).
        table = getattr(self.cache, "cache_model_class", None)
        atomic = transaction.atomic(using=router.db_for_write(table)) if table else nullcontext()
        with atomic, open(path, "a") as handle:  # closing releases the lock
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def incr(self, key: str, ttl: int) -> int:
        with self._exclusive():
            value = int(self.cache.get(key) or 0) + 1
            self.cache.set(key, value, ttl)  # the expiry runs from the last change, as on Redis
        return value

    def counts_add(self, key: str, counts: dict[str, int], ttl: int | None = None) -> None:
        self.counts_add_many([(key, counts, ttl)])

    def counts_add_many(self, updates: list[tuple[str, dict[str, int], int | None]]) -> None:
        with self._exclusive():
            for key, counts, ttl in updates:
                entry = dict(self.cache.get(key) or {})
                for field, amount in counts.items():
                    entry[field] = int(entry.get(field, 0)) + amount
                self.cache.set(key, entry, ttl)

    def counts(self, *keys: str) -> list[dict[str, int]]:
        found = self.cache.get_many(list(keys))
        return [{field: int(value) for field, value in (found.get(key) or {}).items()} for key in keys]

    def delete(self, *keys: str) -> None:
        if keys:
            self.cache.delete_many(list(keys))

    def board_put(self, board: str, name: str, value: str) -> None:
        with self._exclusive():
            entries = self.board(board)
            entries[name] = value
            self.cache.set(board, entries, None)

    def board_remove(self, board: str, *names: str) -> None:
        with self._exclusive():
            entries = self.board(board)
            removed = [entries.pop(name, None) for name in names]
            if any(value is not None for value in removed):
                self.cache.set(board, entries, None)

    def board(self, board: str) -> dict[str, str]:
        return dict(self.cache.get(board) or {})

    def board_get(self, board: str, name: str) -> str | None:
        return self.board(board).get(name)

    # Leases on the cache are not atomic: the embedded profile runs one beat on one machine.
    def get(self, key: str) -> str | None:
        return self.cache.get(key)

    def add(self, key: str, value: str, ttl: float) -> bool:
        return self.cache.add(key, value, max(1, int(ttl)))

    def lease(self, key: str, holder: str, ttl: float) -> bool:
        if self.cache.add(key, holder, ttl):
            return True
        if self.cache.get(key) == holder:
            self.cache.set(key, holder, ttl)
            return True
        return False

    def release(self, key: str, holder: str) -> bool:
        if self.cache.get(key) == holder:
            self.cache.delete(key)
            return True
        return False


KeyValue = RedisKeyValue | CacheKeyValue


@memoize
def _store_for(url: str) -> KeyValue:
    return RedisKeyValue(url) if url else CacheKeyValue()


def store() -> KeyValue:
    """The store of this profile (one client per process; redis-py reconnects after a fork)."""
    return _store_for(settings.REDIS_URL)


def redis_client():
    """The Redis client behind the store, or None in the embedded profile (for what only Redis does)."""
    return store().client if settings.REDIS_URL else None


_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def async_redis_client():
    """A redis.asyncio client for the running event loop, or None in the embedded profile.

    For code on an event loop (the websocket processes) that must not block it; one client
    per loop, because an asyncio connection belongs to the loop that opened it. Its pool makes
    a caller wait (up to REDIS_SOCKET_TIMEOUT) for one of its connections when all are in use:
    redis-py's default pool raises MaxConnectionsError instead, and a few hundred clients
    joining presence channels at once would each get an error."""
    if not settings.REDIS_URL:
        return None
    import redis.asyncio

    loop = asyncio.get_running_loop()
    # A client refers to its loop, which so stays a key of this weak dictionary for ever: drop
    # the clients of loops that ended (sync code's async_to_sync runs a new loop per call, as a
    # worker's broadcast does), or each such call would keep a client, a pool and its socket.
    for ended in [other for other in _async_clients if other.is_closed()]:
        del _async_clients[ended]
    url, client = _async_clients.get(loop, (None, None))
    if url != settings.REDIS_URL:
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            settings.REDIS_URL,
            max_connections=100,
            timeout=settings.REDIS_SOCKET_TIMEOUT,
            socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
            socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
            retry=async_retry(),
            decode_responses=True,
        )
        client = redis.asyncio.Redis(connection_pool=pool)
        _async_clients[loop] = (settings.REDIS_URL, client)
    return client


async def aboard(board: str) -> dict[str, str]:
    """`store().board(board)` without blocking the event loop."""
    client = async_redis_client()
    if client is not None:
        return await client.hgetall(board)
    return await in_thread(store().board, board)


async def in_thread(call, *args):
    """Run a blocking call that uses the store (or anything else) in a worker thread of the loop.

    The thread's database connections (the embedded profile's cache) are closed afterwards:
    the loop's executor threads live on, and a connection left in one would never be closed."""
    return await asyncio.to_thread(_closing, call, *args)


def _closing(call, *args):
    from django.db import connections

    try:
        return call(*args)
    finally:
        connections.close_all()
