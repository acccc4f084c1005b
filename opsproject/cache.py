"""The Redis cache backend with one connection pool per process, not one per request.

Django keeps cache backends per async context (its cache handler is a context-local): under
ASGI every request starts a new context, so `django.core.cache.backends.redis.RedisCache` made a
new client, a new connection pool and a new TCP connection to Redis for each request that
touched the cache (every request does: the maintenance flag), a cost paid on every request
(docs/BENCHMARKS.md has the figures).
Here every instance with the same servers and options shares one client, whose redis-py pools
are thread-safe; nothing else about the backend changes.
"""

from __future__ import annotations

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property

_clients: dict[tuple, RedisCacheClient] = {}
_lock = threading.Lock()


def _key(servers, options: dict) -> tuple:
    return (tuple(servers), tuple(sorted((name, repr(value)) for name, value in options.items())))


class SharedRedisCache(RedisCache):
    """RedisCache whose client (and so its connection pools) is shared within the process."""

    @cached_property
    def _cache(self) -> RedisCacheClient:
        key = _key(self._servers, self._options)
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._class(self._servers, **self._options)
        return client
