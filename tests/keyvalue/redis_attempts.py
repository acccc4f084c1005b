"""Run as a child (`python -m tests.keyvalue.redis_attempts`) with REDIS_URL set: make one call
through each Redis client the project configures and print, as JSON, how many TCP connects to
REDIS_URL's port each made and how it ended.

The connects are counted by an audit hook (PEP 578's `socket.connect` event), which sees every
attempt, refused ones included, and changes nothing about them.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from urllib.parse import urlsplit

PORT = urlsplit(os.environ["REDIS_URL"]).port
connects = [0]


def _count(event: str, args: tuple) -> None:
    if event == "socket.connect" and isinstance(args[1], tuple) and args[1][1] == PORT:
        connects[0] += 1


def _one(call) -> dict:
    connects[0] = 0
    try:
        call()
        ended = "answered"
    except Exception as exc:  # what the caller of the client would get
        ended = type(exc).__name__
    return {"connects": connects[0], "ended": ended}


def _keyvalue() -> None:
    from keyvalue import store

    store().counts_add("test-redis-attempts", {"a": 1})


def _keyvalue_async() -> None:
    from keyvalue import async_redis_client

    async def call():
        client = async_redis_client()
        try:
            await client.hgetall("test-redis-attempts")
        finally:
            await client.connection_pool.disconnect()

    asyncio.run(call())


def _cache() -> None:
    from django.core.cache import cache

    cache.get("test-redis-attempts")


def _channel_layer() -> None:
    from channels.layers import get_channel_layer

    async def call():
        layer = get_channel_layer()
        try:
            await layer.send("test-redis-attempts", {"type": "test.message"})
        finally:
            await layer.close_pools()

    asyncio.run(call())


CALLS = {
    "keyvalue": _keyvalue,
    "keyvalue_async": _keyvalue_async,
    "cache": _cache,
    "channel_layer": _channel_layer,
}

if __name__ == "__main__":
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsproject.settings")
    django.setup()
    sys.addaudithook(_count)
    print(json.dumps({name: _one(call) for name, call in CALLS.items()}))
