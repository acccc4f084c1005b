"""channels_redis' layer with the project's Redis retry policy on every host's connections.

channels_redis hands each host dict to redis.asyncio's ConnectionPool.from_url; this adds the
policy of opsproject/redis_retry.py there (a host that names its own `retry` keeps it), so the
settings stay plain data (tests and the health runner copy and digest them as JSON).
"""

from __future__ import annotations

from channels_redis import core
from channels_redis.utils import decode_hosts

from opsproject.redis_retry import async_retry


class RedisChannelLayer(core.RedisChannelLayer):
    def __init__(self, hosts=None, **config):
        super().__init__(hosts=[{"retry": async_retry(), **host} for host in decode_hosts(hosts)], **config)
