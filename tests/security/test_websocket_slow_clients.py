"""A client that stops reading, at a real server: it does not stay a subscriber or a present member.

The client is a hand-made websocket over a socket with a tiny receive buffer that, once
subscribed, never reads again and never closes: broadcasts fill every buffer between it and the
server. The server's ping goes unanswered and it decides to close (4201), but that close frame
queues behind the unread broadcasts. Its presence entry, member_removed and group membership
must not wait for the attacker to let go of the socket.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import uuid

import pytest
from django.conf import settings

from realtime.broadcasting import abroadcast
from tests.realtime.support import PusherClient, asgi_server, signed
from tests.security.test_websocket_frames import no_tracebacks, presence_key, redis_client
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db


def masked_text_frame(payload: bytes) -> bytes:
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    assert 126 <= len(payload) < 65536
    return bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, "big") + mask + masked


def stalled_member(port: int, channel: str, user_id: str) -> tuple[socket.socket, str]:
    """A websocket that joins presence `channel` as `user_id`, then never reads; (socket, socket id)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /app/{settings.REALTIME_APP_KEY}?protocol=7 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    assert response.startswith(b"HTTP/1.1 101"), response
    header = sock.recv(2)
    assert header[0] == 0x81 and header[1] < 126, header  # one short unmasked text frame
    established = b""
    while len(established) < header[1]:
        established += sock.recv(header[1] - len(established))
    socket_id = json.loads(json.loads(established)["data"])["socket_id"]
    subscribe = {"channel": channel, **signed(socket_id, channel, {"user_id": user_id})}
    sock.sendall(masked_text_frame(json.dumps({"event": "pusher:subscribe", "data": subscribe}).encode()))
    return sock, socket_id


def test_a_member_that_stops_reading_leaves_the_channel_though_it_keeps_its_socket():
    channel = f"presence-stall.{uuid.uuid4().hex[:8]}"
    payload = {"blob": "x" * 40_000}  # 200 of them overflow every buffer on the way
    store = redis_client()

    async def scenario(srv):
        watcher = await PusherClient.connect(srv.ws_url())
        await watcher.subscribe(channel, **signed(watcher.socket_id, channel, {"user_id": "watcher"}))
        stalled, stalled_id = await asyncio.to_thread(stalled_member, srv.port, channel, "stalled")
        added = await watcher.expect("pusher_internal:member_added", channel)
        assert added["data"]["user_id"] == "stalled"
        for _ in range(200):
            await abroadcast(channel, "blob", payload)
            await watcher.expect("blob", channel)  # a reader that keeps up gets every one
        removed = await watcher.expect("pusher_internal:member_removed", channel, timeout=60)
        assert removed["data"] == {"user_id": "stalled"}

        def entry_gone() -> bool:
            return not store.hexists(presence_key(channel), stalled_id)

        await asyncio.to_thread(wait_until, entry_gone, 30, "the stalled member's presence entry is gone")
        assert store.hexists(presence_key(channel), watcher.socket_id)
        # The watcher still follows the channel: a broadcast still reaches it.
        await abroadcast(channel, "after", {"n": 1})
        await watcher.expect("after", channel)
        # The attacker still holds its socket: nothing above waited for it to let go.
        assert stalled.fileno() != -1
        await watcher.send("pusher:ping")
        await watcher.expect("pusher:pong")
        await watcher.close()
        stalled.close()

    env = {"REALTIME_ACTIVITY_TIMEOUT": "1", "REALTIME_PONG_TIMEOUT": "1", "REALTIME_SEND_QUEUE": "5"}
    with asgi_server(**env) as srv:
        asyncio.run(scenario(srv))
        srv.process.wait_for_line(r"did not answer a ping; closing 4201")
        no_tracebacks(srv)
