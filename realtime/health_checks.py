"""The `realtime` health check: a real round trip through the channel layer, and open websockets.

Reading the configuration proves nothing (the old probe did only that): the check sends a
message to a channel of its own and receives it back through the same layer the broadcasts use,
timed, and reports how many websockets the websocket processes hold open.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from channels.layers import get_channel_layer

from health.registry import health_check
from health.results import FAIL, Result
from health.runner import current_timeout
from realtime.store import get_store


async def _round_trip() -> tuple[float, int]:
    layer = get_channel_layer()
    # A plain channel name, not a process-specific one: this process's hub may be receiving on
    # the layer from another event loop, and channels_redis allows one loop per process there.
    channel = f"realtime-health.{uuid.uuid4().hex}"
    payload = uuid.uuid4().hex
    started = time.perf_counter()
    await layer.send(channel, {"type": "health.probe", "payload": payload})
    message = await layer.receive(channel)
    elapsed = round((time.perf_counter() - started) * 1000, 2)
    if message.get("payload") != payload:
        raise RuntimeError("received a different message than the one sent")
    return elapsed, await get_store().connection_count()


@health_check("realtime", measurement="responseTime")
def realtime() -> list[Result]:
    entry = {"component": "realtime", "component_type": "component"}
    try:
        elapsed, connections = asyncio.run(asyncio.wait_for(_round_trip(), current_timeout()))
    except Exception as error:
        output = f"channel layer round trip failed: {type(error).__name__}: {error}"
        return [Result(**entry, measurement="responseTime", status=FAIL, output=output)]
    return [
        Result(**entry, measurement="responseTime", observed_value=elapsed, observed_unit="ms"),
        Result(**entry, measurement="connections", observed_value=connections, observed_unit="connections"),
    ]
