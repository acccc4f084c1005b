"""The channel layer's Redis pool: more commands in flight than it holds wait, none is refused.

redis-py 8's ConnectionPool raises MaxConnectionsError ("Too many connections") past 100
commands in flight on one event loop; 10,000 clients subscribing to presence channels with a
few realtime servers on the board went past it (docs/BENCHMARKS.md, ws_scale).
opsproject/channel_layer.py overrides channels_redis' public `create_pool` for a blocking pool.
"""

import asyncio
import uuid

import channels_redis
import pytest
from channels.layers import get_channel_layer
from redis.asyncio import BlockingConnectionPool

from opsproject.channel_layer import LAYER_MAX_CONNECTIONS

pytestmark = pytest.mark.django_db


def test_the_override_is_checked_against_this_channels_redis():
    # create_pool is channels_redis' public hook for its pools (RedisLoopLayer calls it); a new
    # release may rename or bypass it: re-read opsproject/channel_layer.py before moving this pin.
    assert channels_redis.__version__.startswith("4.3."), channels_redis.__version__


def test_more_layer_sends_at_once_than_the_pool_holds_all_arrive():
    prefix = f"pool-{uuid.uuid4().hex[:8]}"
    count = LAYER_MAX_CONNECTIONS * 3

    async def flood():
        layer = get_channel_layer()
        assert isinstance(layer.connection(0).connection_pool, BlockingConnectionPool)
        channels = [f"{prefix}.{n}" for n in range(count)]
        try:
            await asyncio.gather(*(layer.send(c, {"type": "n", "n": n}) for n, c in enumerate(channels)))
            return [(await layer.receive(c))["n"] for c in channels]
        finally:
            await layer.flush()

    assert asyncio.run(flood()) == list(range(count))
