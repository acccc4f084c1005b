"""The `realtime` health check: a live realtime server, and a real round trip through the layer."""

from __future__ import annotations

import asyncio
import time
import uuid

from channels.layers import get_channel_layer

from health.registry import health_check
from health.results import FAIL, Result
from health.runner import current_timeout
from realtime import servers


async def _round_trip() -> tuple[float, dict[str, dict]]:
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
    return elapsed, await servers.aalive()


@health_check("realtime", measurement="responseTime")
def realtime() -> list[Result]:
    entry = {"component": "realtime", "component_type": "component"}
    try:
        elapsed, alive = asyncio.run(asyncio.wait_for(_round_trip(), current_timeout()))
    except Exception as error:
        output = f"channel layer round trip failed: {type(error).__name__}: {error}"
        return [Result(**entry, measurement="responseTime", status=FAIL, output=output)]
    connections = sum(int(server.get("connections") or 0) for server in alive.values())
    results = [
        Result(**entry, measurement="responseTime", observed_value=elapsed, observed_unit="ms"),
        Result(**entry, measurement="connections", observed_value=connections, observed_unit="connections"),
        Result(**entry, measurement="servers", observed_value=len(alive), observed_unit="servers"),
    ]
    if not alive:
        output = f"no realtime server is alive: no heartbeat in the last {servers.stale_after():g} s"
        results[-1] = Result(**entry, measurement="servers", observed_value=0, status=FAIL, output=output)
    return results
