"""The realtime server's ASGI entry: the hub starts with the process, not with its first client.

Wrap only processes meant to serve websockets: a web process that starts a hub would count as a
realtime server (realtime.servers).
"""

from __future__ import annotations

from realtime.hub import get_hub


class RealtimeServer:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        await get_hub()
        await self.app(scope, receive, send)

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await get_hub()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": f"realtime hub: {exc!r}"})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
