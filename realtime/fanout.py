"""Fan-out: one message to every live realtime server's channel, with the layer's public `send`.

Each server (its hub) listens on one channel of the layer and delivers to its own clients, so
a broadcast is one `send` per live server (realtime.servers), not a Channels group. The
layer's `send` raises ChannelFull when that server's channel already holds `capacity` unread
messages: realtime counts that drop itself (realtime.drops). A group's `group_send` would drop
the same message silently (channels_redis reports it only in a log line), which is why groups
are not used.
"""

from __future__ import annotations

import asyncio

from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer

import keyvalue
from realtime import drops, servers


async def send(message: dict) -> int:
    """Send `message` to every live server; how many took it. A failed send raises (after the others)."""
    layer = get_channel_layer()
    channels = {server["channel"] for server in (await servers.aalive()).values()}
    results = await asyncio.gather(
        *(layer.send(channel, message) for channel in channels), return_exceptions=True
    )
    full = sum(isinstance(result, ChannelFull) for result in results)
    if full:
        drops.note(drops.LAYER_OVER_CAPACITY, full)
        await keyvalue.in_thread(drops.share)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, ChannelFull):
            raise result
    return len(channels) - full
