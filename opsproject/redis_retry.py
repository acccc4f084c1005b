"""How every Redis client the project makes retries: once, and only a lost connection.

One retry, after 0.1 to 0.2 s (jittered, so processes that lost their connections together do
not reconnect in step), on redis-py's ConnectionError only: a pooled connection that Redis
closed (idle, or a restart) is reconnected instead of failing the call (redis.asyncio's pools
in redis-py 8.1 hand such a connection out as it is), and a refused connect is tried twice. A
timeout is not retried: a hung Redis (connects, never answers) costs one REDIS_SOCKET_TIMEOUT
per call, not one per attempt. Stated here rather than left to redis-py, whose defaults differ
by constructor (`Redis(host=...)` retries ten times, timeouts included; `from_url` not at all)
and between releases.

Used by the key-value store's clients (keyvalue), the Django cache (opsproject/cache.py) and the
channel layer (opsproject/channel_layer.py), which add it to the options settings.CACHES and
CHANNEL_LAYERS give (those stay plain data); not by Celery's broker transport, which kombu
retries itself.
tests/keyvalue/test_retry.py counts the attempts against a hung and a refused Redis.
"""

from __future__ import annotations

RETRIES = 1
BACKOFF_BASE = 0.1  # seconds: the one retry waits between 0.1 and 0.2 s
BACKOFF_CAP = 0.2


def _backoff():
    from redis.backoff import EqualJitterBackoff

    return EqualJitterBackoff(cap=BACKOFF_CAP, base=BACKOFF_BASE)


def retry():
    """The policy for redis-py's synchronous clients (a `redis.retry.Retry`)."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.retry import Retry

    return Retry(_backoff(), RETRIES, supported_errors=(RedisConnectionError,))


def async_retry():
    """The same policy for redis.asyncio clients (which take a `redis.asyncio.retry.Retry`)."""
    from redis.asyncio.retry import Retry
    from redis.exceptions import ConnectionError as RedisConnectionError

    return Retry(_backoff(), RETRIES, supported_errors=(RedisConnectionError,))
