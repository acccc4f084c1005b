"""Fan-out: one message to every live realtime server's channel, with the layer's public `send`.

Not a Channels group: `group_send` drops a message for a full channel silently, `send` raises
ChannelFull, which realtime counts (realtime.drops).
"""

from __future__ import annotations

import asyncio
import contextlib

from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer

import keyvalue
from realtime import drops, servers


async def send(message: dict, limit: asyncio.Semaphore | None = None) -> int:
    """Send `message` to every live server; how many took it. A failed send raises (after the others).

    `limit` bounds the layer sends in flight across callers that share it (the hub's)."""
    layer = get_channel_layer()
    channels = {server["channel"] for server in (await servers.aalive()).values()}

    async def send_one(channel: str) -> None:
        async with limit or contextlib.nullcontext():
            return await layer.send(channel, message)

    results = await asyncio.gather(*(send_one(channel) for channel in channels), return_exceptions=True)
    full = sum(isinstance(result, ChannelFull) for result in results)
    if full:
        drops.note(drops.LAYER_OVER_CAPACITY, full)
        await keyvalue.in_thread(drops.share)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, ChannelFull):
            raise result
    return len(channels) - full
