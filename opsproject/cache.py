"""The Redis cache backend with one connection pool per process, not one per request.

Django keeps cache backends per async context, so under ASGI `RedisCache` made a new client,
pool and TCP connection for each request (docs/ARCHITECTURE.md; figures in docs/BENCHMARKS.md).
Here instances with the same servers and options share one thread-safe client, whose
connections retry as every Redis client of the project does (opsproject/redis_retry.py) unless
OPTIONS names a `retry` of its own.
"""

from __future__ import annotations

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property

from opsproject.redis_retry import retry

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
                options = {"retry": retry(), **self._options}
                client = _clients[key] = self._class(self._servers, **options)
        return client
