"""The Pusher protocol consumer: one websocket at /app/<key>, as pusher-js and Laravel Echo speak it.

A plain ASGI application, not a Channels consumer: Channels 4.2+'s AsyncConsumer.dispatch runs
close_old_connections in a worker thread before every message (a thread hop per message, most of
the server's time at 10,000 clients), for consumers that use the database. This one never does:
its state is the hub's (Redis), and the one ASGI receive loop below is all it needs.
"""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import parse_qs

from django.conf import settings

from realtime import limits, protocol
from realtime.hub import get_hub
from realtime.store import Member

logger = logging.getLogger("realtime")


async def pusher_app(scope, receive, send) -> None:
    """The ASGI application of one Pusher websocket (realtime.routing mounts it)."""
    await PusherConsumer(scope, send).run(receive)


class PusherConsumer:
    # No channel layer per consumer: the process's hub holds the one layer channel and fans out.
    connection = None
    hub = None
    address: str | None = None  # counted in limits.per_address while this consumer lives

    def __init__(self, scope, send):
        self.scope = scope
        self._send = send

    async def run(self, receive) -> None:
        # Whatever ends this consumer (a close, an exception, a cancelled task), its
        # subscriptions, presence entries and counters go at once: nothing is left for the
        # hub to re-join on every layer check.
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.connect":
                    await self.connect()
                elif message["type"] == "websocket.receive":
                    await self.receive(message.get("text"), message.get("bytes"))
                elif message["type"] == "websocket.disconnect":
                    return
        finally:
            await asyncio.shield(self._release())

    async def send(self, text_data: str) -> None:
        await self._send({"type": "websocket.send", "text": text_data})

    async def close(self, code: int) -> None:
        await self._send({"type": "websocket.close", "code": code})

    async def connect(self) -> None:
        await self._send({"type": "websocket.accept"})
        key = self.scope["url_route"]["kwargs"]["app_key"]
        if key != settings.REALTIME_APP_KEY:
            logger.warning("realtime: refused a connection for unknown app key %r", key[:64])
            await self._refuse(protocol.UNKNOWN_APP_KEY, "Application does not exist")
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin1"))
        version = (query.get("protocol") or ["7"])[0]
        if not protocol.supported_protocol(version):
            await self._refuse(protocol.UNSUPPORTED_PROTOCOL, f"Unsupported protocol version {version[:16]}")
            return
        admitted, self.address = limits.per_address.acquire(self.scope)
        if not admitted:
            logger.warning(
                "realtime: refused a connection from %s: over REALTIME_MAX_CONNECTIONS_PER_IP (%d)",
                self.scope["client"][0],
                settings.REALTIME_MAX_CONNECTIONS_PER_IP,
            )
            refusal = "Over capacity: too many connections from your address"
            await self._refuse(protocol.OVER_CAPACITY, refusal)
            return
        self.hub = await get_hub()
        if self.hub.shutting_down:
            await self._refuse(protocol.PLEASE_RECONNECT, "Server is restarting: please reconnect")
            return
        self.subscribe_rate = limits.subscribe_rate()
        self.client_event_rate = limits.client_event_rate()
        self.connection = self.hub.open(self)
        activity_timeout = max(1, round(settings.REALTIME_ACTIVITY_TIMEOUT))
        data = {"socket_id": self.connection.socket_id, "activity_timeout": activity_timeout}
        self.connection.send(protocol.frame("pusher:connection_established", data))

    async def _refuse(self, code: int, message: str) -> None:
        await self.send(text_data=protocol.error_frame(code, message))
        await self.close(code=code)

    async def _release(self) -> None:
        connection, self.connection = self.connection, None
        address, self.address = self.address, None
        limits.per_address.release(address)
        if connection is not None:
            await self.hub.close(connection)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if self.connection is None or self.connection.closing:
            return
        self.connection.touch()
        if refusal := limits.message_too_large(text_data, bytes_data):
            logger.warning("realtime: closing %s (4009): %s", self.connection.socket_id, refusal)
            self.connection.close(protocol.UNAUTHORIZED, refusal)
            return
        try:
            event, data, message = protocol.parse_message(text_data)
        except protocol.InvalidMessage as invalid:
            logger.debug("realtime: invalid message from %s: %s", self.connection.socket_id, invalid)
            if self._within(self.subscribe_rate):
                self._error(protocol.INVALID_MESSAGE, "Invalid message format")
            return
        rate = self.client_event_rate if event.startswith("client-") else self.subscribe_rate
        if not self._within(rate):
            if event == "pusher:subscribe" and protocol.valid_channel_name(data.get("channel")):
                # pusher-js and Echo wait for the channel's own answer to a subscription.
                error = {"type": "LimitReached", "error": "rate limit exceeded", "status": 429}
                self.connection.send(protocol.frame("pusher:subscription_error", error, data["channel"]))
            return
        try:
            await self._handle(event, data, message)
        except Exception:
            logger.exception("realtime: handling %r from %s failed", event[:64], self.connection.socket_id)
            self._error(protocol.PLEASE_RECONNECT, f"Could not handle {event[:64]}")

    def _within(self, rate: limits.Rate) -> bool:
        """Whether a message is within its rate; past it the client is told 4301, then closed."""
        verdict = rate.take()
        if verdict == limits.REFUSE:
            self._error(protocol.RATE_LIMITED, "Rate limit exceeded: message rejected")
        elif verdict == limits.CLOSE:
            logger.warning(
                "realtime: closing %s (4301): it kept sending past its rate", self.connection.socket_id
            )
            self.connection.close(protocol.RATE_LIMITED, "Rate limit exceeded: closing")
        return verdict == limits.ALLOW

    async def _handle(self, event: str, data, message: dict) -> None:
        if event == "pusher:ping":
            self.connection.send(protocol.frame("pusher:pong"))
        elif event == "pusher:pong":
            pass  # touch() above already counted it
        elif event == "pusher:subscribe":
            await self._subscribe(data)
        elif event == "pusher:unsubscribe" and not isinstance(data.get("channel"), str):
            self._error(protocol.INVALID_MESSAGE, "Invalid message format")
        elif event == "pusher:unsubscribe":
            await self.hub.unsubscribe(self.connection, data["channel"])
        elif event.startswith("client-"):
            await self._client_event(event, message)
        else:
            self._error(protocol.INVALID_MESSAGE, f"Unsupported event {event[:64]}")

    def _error(self, code: int | None, text: str) -> None:
        self.connection.send(protocol.error_frame(code, text))

    def _subscription_failed(self, channel: str, reason: str, status: int = 403) -> None:
        logger.warning(
            "realtime: subscription of %s to %r refused: %s", self.connection.socket_id, channel[:200], reason
        )
        # The connection-level 4009 of the protocol, and the channel-level event pusher-js and
        # Echo's .error() callbacks listen for.
        self._error(protocol.UNAUTHORIZED, f"Subscription to {channel[:200]} refused: {reason}")
        error = {"type": "AuthError" if status == 403 else "LimitReached", "error": reason, "status": status}
        self.connection.send(protocol.frame("pusher:subscription_error", error, channel))

    async def _subscribe(self, data: dict) -> None:
        channel = data.get("channel")
        if not protocol.valid_channel_name(channel):
            self._subscription_failed(str(channel), "invalid channel name")
            return
        if refusal := limits.over_subscriptions(self.connection.channels, channel):
            self._subscription_failed(channel, refusal, status=429)
            return
        kind = protocol.channel_kind(channel)
        member = None
        if kind != protocol.PUBLIC:
            channel_data = data.get("channel_data") if kind == protocol.PRESENCE else None
            if kind == protocol.PRESENCE and not isinstance(channel_data, str):
                self._subscription_failed(channel, "presence channels need channel_data")
                return
            if not protocol.verify_auth(data.get("auth"), self.connection.socket_id, channel, channel_data):
                self._subscription_failed(channel, "invalid signature")
                return
            if kind == protocol.PRESENCE:
                member = self._member(channel_data)
                if member is None:
                    self._subscription_failed(channel, "channel_data has no user_id")
                    return
        members = await self.hub.subscribe(self.connection, channel, member)
        if member is None:
            succeeded = {}
        else:
            members = members or {member.user_id: member.user_info}
            succeeded = {"presence": {"ids": list(members), "hash": members, "count": len(members)}}
        self.connection.send(protocol.frame("pusher_internal:subscription_succeeded", succeeded, channel))

    @staticmethod
    def _member(channel_data: str) -> Member | None:
        try:
            parsed = json.loads(channel_data)
        except ValueError:
            return None
        if not isinstance(parsed, dict) or parsed.get("user_id") in (None, ""):
            return None
        return Member(str(parsed["user_id"]), parsed.get("user_info"))

    async def _client_event(self, event: str, message: dict) -> None:
        channel = message.get("channel")
        if not settings.REALTIME_CLIENT_EVENTS:
            self._error(protocol.CLIENT_EVENTS_DISABLED, "Client events are not enabled")
            return
        if not isinstance(channel, str) or protocol.channel_kind(channel) == protocol.PUBLIC:
            self._error(protocol.UNAUTHORIZED, "Client events go to private or presence channels only")
            return
        if channel not in self.connection.channels:
            self._error(protocol.UNAUTHORIZED, f"Not subscribed to {channel[:200]}")
            return
        member = self.connection.channels[channel]
        extra = {"user_id": member.user_id} if member is not None else {}
        text = protocol.frame(event, message.get("data"), channel, **extra)
        await self.hub.publish(channel, text, exclude=self.connection.socket_id)
