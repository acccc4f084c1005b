"""The Redis cache backend with one connection pool per process, not one per request.

Django keeps cache backends per async context, so under ASGI `RedisCache` made a new client,
pool and TCP connection for each request (docs/ARCHITECTURE.md; figures in docs/BENCHMARKS.md).
Here instances with the same servers and options share one thread-safe client.
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
