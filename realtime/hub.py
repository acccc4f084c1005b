"""The websocket process's hub: its connections, their subscriptions and its one layer channel."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import time
import uuid
from collections import deque

from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer
from django.conf import settings

import keyvalue
from realtime import drops, fanout, protocol, servers
from realtime.store import Member, get_store

logger = logging.getLogger("realtime")


def _check_deadline() -> float:
    """How long a layer check may take: at least 2 s, or a busy machine makes a healthy Redis look down."""
    return max(settings.REALTIME_LAYER_CHECK_INTERVAL, 2.0)


class Connection:
    """One websocket as the hub sees it; frames leave in order through one writer task."""

    def __init__(self, consumer, socket_id: str):
        self.consumer = consumer
        self.socket_id = socket_id
        self.channels: dict[str, Member | None] = {}  # subscribed channel -> presence member
        self.last_seen = time.monotonic()
        self.ping_sent_at: float | None = None
        self.closing = False
        self.closing_since = 0.0
        self._frames: deque[str | int] = deque()
        self._wake = asyncio.Event()
        self._writer = asyncio.ensure_future(self._write())

    def touch(self) -> None:
        self.last_seen = time.monotonic()
        self.ping_sent_at = None

    def send(self, text: str, droppable: bool = False) -> None:
        if self.closing:
            return
        if droppable and len(self._frames) >= settings.REALTIME_SEND_QUEUE:
            drops.note(drops.SLOW_CLIENT)
            return
        self._frames.append(text)
        self._wake.set()

    def close(self, code: int, message: str | None = None) -> None:
        """Send `pusher:error` with the code (when a message is given), then close with it."""
        if self.closing:
            return
        if message is not None:
            self.send(protocol.error_frame(code, message))
        self.closing = True
        self.closing_since = time.monotonic()
        self._frames.append(code)
        self._wake.set()

    def stop(self) -> None:
        self._writer.cancel()

    async def _write(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._frames:
                    item = self._frames.popleft()
                    if isinstance(item, int):
                        await self.consumer.close(code=item)
                        return
                    await self.consumer.send(text_data=item)
        except Exception as exc:  # the client went away mid-send: its disconnect cleans up
            logger.debug("realtime: writer of %s stopped: %r", self.socket_id, exc)


class Hub:
    def __init__(self):
        self.loop = asyncio.get_running_loop()
        self.layer = get_channel_layer()
        self.store = get_store()
        self.process_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.connections: dict[str, Connection] = {}
        self.subscribers: dict[str, set[Connection]] = {}
        self.layer_channel = ""
        self.layer_ok = asyncio.Event()
        self.layer_ok.set()
        self._trouble = asyncio.Event()
        self._trouble_reason: BaseException | None = None
        self._tasks: set[asyncio.Task] = set()  # held: the loop keeps only weak references
        self.started: asyncio.Future | None = None
        self.shutting_down = False
        # Layer sends in flight (a fan-out is one per live server): the layer's pool holds 100
        # connections and makes the rest wait (opsproject/channel_layer.py); bounding the sends,
        # not the fan-outs, keeps the wait short and leaves connections for the receive loop and
        # the layer check however many servers are live.
        self._layer_sends = asyncio.Semaphore(50)

    async def start(self) -> None:
        # The default "specific" prefix: channels_redis pops every process-local channel of
        # one prefix from one key under one lock, so a channel of another prefix would wait
        # behind other consumers' blocking pops.
        self.layer_channel = await self.layer.new_channel()
        # On the board before the first client is welcomed: broadcasts find this server from then on.
        try:
            await self._beat()
        except Exception as exc:
            self.layer_failed(exc)  # the layer loop retries, clients are served meanwhile
        for loop in (self._receive_loop(), self._layer_loop(), self._activity_loop()):
            self._tasks.add(asyncio.ensure_future(loop))
        self._install_signal_handlers()

    # connections and subscriptions

    def open(self, consumer) -> Connection:
        while (socket_id := f"{secrets.randbelow(10**9)}.{secrets.randbelow(10**9)}") in self.connections:
            pass
        connection = Connection(consumer, socket_id)
        self.connections[socket_id] = connection
        return connection

    async def close(self, connection: Connection) -> None:
        self.connections.pop(connection.socket_id, None)
        connection.stop()
        for channel in list(connection.channels):
            try:
                await self.unsubscribe(connection, channel)
            except Exception as exc:
                logger.warning("realtime: leaving %s for %s failed: %r", channel, connection.socket_id, exc)

    async def subscribe(self, connection: Connection, channel: str, member: Member | None = None):
        """Deliver `channel` to `connection`; for presence, join and return the members."""
        rejoined = channel in connection.channels and connection.channels[channel] == member
        self.subscribers.setdefault(channel, set()).add(connection)
        connection.channels[channel] = member
        if member is None:
            return None
        # Registered locally first: should Redis fail now, the resync after it recovers
        # restores the presence entry.
        try:
            result = await self.store.presence_join(channel, connection.socket_id, member)
        except Exception as exc:
            self.layer_failed(exc)
            return {member.user_id: member.user_info}
        if result.added and not rejoined:  # a repeated subscribe is no arrival
            added = protocol.frame("pusher_internal:member_added", result.added.as_dict(), channel)
            await self.publish(channel, added, exclude=connection.socket_id)
        await self._announce_departures(channel, result.removed)
        return result.members

    async def unsubscribe(self, connection: Connection, channel: str) -> None:
        if channel not in connection.channels:
            return
        member = connection.channels.pop(channel)
        local = self.subscribers.get(channel, set())
        local.discard(connection)
        if not local:
            self.subscribers.pop(channel, None)
        if member is not None:
            result = await self.store.presence_leave(channel, connection.socket_id)
            await self._announce_departures(channel, result.removed)

    async def _announce_departures(self, channel: str, members: list[Member]) -> None:
        for member in members:
            text = protocol.frame("pusher_internal:member_removed", {"user_id": member.user_id}, channel)
            await self.publish(channel, text)

    async def publish(self, channel: str, text: str, exclude: str | None = None) -> None:
        """Send a ready frame to every subscriber of `channel` in every process."""
        message = {"type": "realtime.frame", "channel": channel, "frame": text, "exclude": exclude}
        await fanout.send(message, self._layer_sends)

    def deliver(self, message: dict) -> None:
        exclude = message.get("exclude")
        delivered = 0
        for connection in tuple(self.subscribers.get(message.get("channel"), ())):
            if connection.socket_id != exclude:
                connection.send(message["frame"], droppable=True)
                delivered += 1
        request_id = message.get("request_id")
        if delivered and isinstance(request_id, str):
            # Only broadcasts made while serving a request (or its tasks) are traced here.
            logger.info(
                "realtime: delivered on %s to %d connection(s)",
                message.get("channel"),
                delivered,
                extra={"request_id": request_id[:128]},
            )

    # the channel layer: receive, watch, recover

    async def _receive_loop(self) -> None:
        while True:
            await self.layer_ok.wait()
            try:
                message = await self.layer.receive(self.layer_channel)
            except Exception as exc:
                self.layer_failed(exc)
                continue
            if message.get("type") == "realtime.frame":
                self.deliver(message)

    def layer_failed(self, exc: BaseException) -> None:
        """Note a failed layer call; the layer loop recovers, receiving waits until it has."""
        if self.layer_ok.is_set():
            self._trouble_reason = exc
            self.layer_ok.clear()
            self._trouble.set()

    async def _layer_loop(self) -> None:
        interval = settings.REALTIME_LAYER_CHECK_INTERVAL
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._trouble.wait(), interval)
            try:
                if self._trouble.is_set():
                    raise self._trouble_reason or ConnectionError("channel layer failed")
                await asyncio.wait_for(self._check(), _check_deadline())
            except Exception as exc:
                await self._recover(exc)

    async def _check(self) -> None:
        """Prove the layer answers, then heartbeat, presence entries and drop counts (also
        what puts them back after Redis lost them)."""
        # A message to our own channel, which the receive loop skips. Full means it answered.
        with contextlib.suppress(ChannelFull):
            await self.layer.send(self.layer_channel, {"type": "realtime.check"})
        await self._beat()
        await self.store.presence_refresh(self._presence_entries())
        await keyvalue.in_thread(drops.share)

    async def _beat(self) -> None:
        await keyvalue.in_thread(servers.beat, self.process_id, self.layer_channel, len(self.connections))

    async def _recover(self, exc: BaseException) -> None:
        self.layer_ok.clear()
        started = time.monotonic()
        logger.error(
            "realtime: channel layer unavailable (%r); %d client(s) stay connected, retrying",
            exc,
            len(self.connections),
        )
        delay = 0.1
        while True:
            await asyncio.sleep(delay)
            try:
                await asyncio.wait_for(self._check(), _check_deadline())
                break
            except Exception:
                delay = min(delay * 2, 5.0)
        self._trouble.clear()
        self._trouble_reason = None
        self.layer_ok.set()
        logger.warning(
            "realtime: channel layer back after %.1f s; %d client(s) still connected",
            time.monotonic() - started,
            len(self.connections),
        )

    def _presence_entries(self) -> list[tuple[str, str, Member]]:
        return [
            (channel, connection.socket_id, member)
            for connection in self.connections.values()
            for channel, member in connection.channels.items()
            if member is not None
        ]

    # liveness of clients

    async def _activity_loop(self) -> None:
        activity, pong = settings.REALTIME_ACTIVITY_TIMEOUT, settings.REALTIME_PONG_TIMEOUT
        tick = min(max(min(activity, pong) / 4, 0.05), 1.0)
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for connection in tuple(self.connections.values()):
                if connection.closing:
                    # Its close frame waits behind frames a client that stopped reading never
                    # takes (uvicorn's send waits for the socket's buffer to drain, forever):
                    # its channels and presence go now, the socket when the peer lets go.
                    if now - connection.closing_since >= pong:
                        task = asyncio.ensure_future(self.close(connection))
                        self._tasks.add(task)
                        task.add_done_callback(self._tasks.discard)
                    continue
                if connection.ping_sent_at is not None:
                    if now - connection.ping_sent_at >= pong:
                        logger.info("realtime: %s did not answer a ping; closing 4201", connection.socket_id)
                        connection.close(protocol.PONG_TIMEOUT, "Pong reply not received in time")
                elif now - connection.last_seen >= activity:
                    connection.send(protocol.frame("pusher:ping"))
                    connection.ping_sent_at = now

    # shutdown

    def _install_signal_handlers(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(signum)

            def handler(received, frame, previous=previous):
                if self.shutting_down:  # a second signal: do what the server would have done
                    self._pass_on(received, frame, previous)
                    return
                self.shutting_down = True
                self.loop.call_soon_threadsafe(
                    lambda: asyncio.ensure_future(self._drain(received, frame, previous))
                )

            try:
                signal.signal(signum, handler)
            except ValueError:  # not the main thread (an embedded test loop): nothing to drain
                return

    async def _drain(self, signum, frame, previous) -> None:
        connections = list(self.connections.values())
        logger.info(
            "realtime: %s received; telling %d client(s) to reconnect (4200)",
            signal.Signals(signum).name,
            len(connections),
        )
        for connection in connections:
            connection.close(protocol.PLEASE_RECONNECT, "Server is restarting: please reconnect")
        deadline = time.monotonic() + settings.REALTIME_SHUTDOWN_GRACE
        while self.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for last_call in ((servers.forget, self.process_id), (drops.share,)):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(keyvalue.in_thread(*last_call), 1)
        self._pass_on(signum, frame, previous)

    @staticmethod
    def _pass_on(signum, frame, previous) -> None:
        signal.signal(signum, previous)
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            os.kill(os.getpid(), signum)


_hub: Hub | None = None


async def get_hub() -> Hub:
    """This process's hub, started on first use in the server's event loop."""
    global _hub
    if _hub is None or _hub.loop is not asyncio.get_running_loop():
        _hub = Hub()  # set before any await, so connections arriving together share it
        _hub.started = asyncio.ensure_future(_hub.start())
    await asyncio.shield(_hub.started)
    return _hub
