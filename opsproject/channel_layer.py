"""channels_redis' layer with the project's retry policy and a pool that waits instead of failing.

channels_redis hands each host dict to redis.asyncio's ConnectionPool.from_url; this adds the
policy of opsproject/redis_retry.py there (a host that names its own `retry` keeps it), so the
settings stay plain data (tests and the health runner copy and digest them as JSON).

The pool: redis-py 8's ConnectionPool holds at most 100 connections and raises
MaxConnectionsError ("Too many connections") on the 101st command in flight. A realtime process
sends one layer message per live server for every presence arrival or departure and client
event, so hundreds of clients subscribing at once with a few servers on the board went past it
and the subscription failed (4200). channels_redis has no setting for the pool's class, so
`create_pool` (a public method of its RedisChannelLayer, called once per host and event loop)
is overridden to build a BlockingConnectionPool of the same size: a command past 100 in flight
waits (up to REDIS_SOCKET_TIMEOUT) for a connection instead. tests/realtime/test_layer_pool.py
pins channels_redis' version and that the override is what the layer uses.
"""

from __future__ import annotations

from channels_redis import core
from channels_redis.utils import decode_hosts
from django.conf import settings

from opsproject.redis_retry import async_retry

# Connections of one process's layer per host and event loop (redis-py's default pool size).
LAYER_MAX_CONNECTIONS = 100


class RedisChannelLayer(core.RedisChannelLayer):
    def __init__(self, hosts=None, **config):
        super().__init__(hosts=[{"retry": async_retry(), **host} for host in decode_hosts(hosts)], **config)

    def create_pool(self, index):
        host = dict(self.hosts[index])
        if "address" not in host:  # a Sentinel or a host given by parts: channels_redis' own pool
            return super().create_pool(index)
        import redis.asyncio

        host.setdefault("max_connections", LAYER_MAX_CONNECTIONS)
        host.setdefault("timeout", settings.REDIS_SOCKET_TIMEOUT)
        return redis.asyncio.BlockingConnectionPool.from_url(host.pop("address"), **host)
