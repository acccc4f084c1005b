"""Random websocket frames and channel names at a real uvicorn: no crash, no unauthorized subscription.

One server (tests/realtime's uvicorn of opsproject.asgi, on the test database and Redis) takes:

- raw frames by hand (tests/reliability/fuzz_websocket.py): reserved opcodes and bits, unmasked
  and oversized control frames, invalid UTF-8 text, lying lengths, one connection after another;
- Pusher-level noise from several clients: random JSON, malformed events (fields of the wrong
  type, nesting past the parser's depth, binary frames), huge frames, and subscriptions to
  random channel names (private- and presence- ones too) with a missing or forged `auth`:
  another socket's, another channel's, the wrong secret's, the wrong app key's, signed for
  other presence data;
- random channel names at POST /broadcasting/auth, anonymous and as a user with no tickets.

Then: no private or presence subscription succeeded, a broadcast on every such channel the fuzz
asked for reaches none of its clients, once the fuzz clients are gone no presence entry of
theirs is left in Redis, /broadcasting/auth never answered 5xx nor granted a channel the user
has no right to, the server still serves a well-behaved client (signed subscription,
broadcast received), and its log holds no traceback. A seeded generator drives it all: the
websocket side is stateful (a connection the server closed is replaced), which hypothesis could
not shrink anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import urllib.parse

import pytest
import redis
import websockets
from django.conf import settings
from django.contrib.auth.models import User
from knox.models import AuthToken

from realtime import abroadcast, protocol
from realtime.store import PREFIX
from tests.realtime.support import KEY, PusherClient, asgi_server, decode, signed
from tests.reliability.fuzz_http import KeepAliveClient, unexpected_tracebacks
from tests.reliability.fuzz_websocket import FrameNoise, PusherNoise, RawSocket
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

SEED = 20261202
RAW_CONNECTIONS = 200  # each sends 1-6 raw frames
# Fewer than a connection's subscribe burst (2 x REALTIME_MAX_SUBSCRIPTIONS) each, so the rate
# limit leaves every forged subscription to the signature check.
PUSHER_CLIENTS = 10
MESSAGES_PER_CLIENT = 150  # a third of them forged subscriptions
AUTH_POSTS = 120
SUCCEEDED = "pusher_internal:subscription_succeeded"
BROADCAST_EVENT = "fuzz.leak"
# uvicorn logs, with a traceback, the text frame that is not UTF-8 it then closes with 1007.
EXPECTED_BEFORE_TRACEBACK = ("Invalid UTF-8 sequence received from client.",)


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    with asgi_server() as running_server:
        yield running_server


def guarded(channel: object) -> bool:
    """A channel that takes a signature: subscribing to it unsigned must never succeed."""
    return isinstance(channel, str) and protocol.channel_kind(channel) != protocol.PUBLIC


# --- raw frames -------------------------------------------------------------------------------


async def raw_frames(port: int, rng: random.Random) -> int:
    noise = FrameNoise(rng)
    sent = 0
    for _ in range(RAW_CONNECTIONS):
        raw = await RawSocket.open(port, f"/app/{KEY}?protocol=7&client=fuzz&version=1.0")
        try:
            for _ in range(rng.randint(1, 6)):
                await raw.send(noise.frame())
                sent += 1
            await raw.drain_for(0.01)
        except (ConnectionError, OSError):
            pass  # the server dropped a connection that broke the protocol: that is its right
        finally:
            await raw.close()
    return sent


# --- Pusher-level noise -----------------------------------------------------------------------


class FuzzClient:
    """A Pusher connection that sends noise and keeps every frame the server sends it."""

    def __init__(self, ws, socket_id: str):
        self.ws = ws
        self.socket_id = socket_id
        self.frames: list[dict] = []
        self.reader = asyncio.ensure_future(self._read())

    @classmethod
    async def connect(cls, url: str) -> FuzzClient:
        ws = await websockets.connect(url, ping_interval=None, max_size=None)
        established = decode(await asyncio.wait_for(ws.recv(), 10))
        return cls(ws, established["data"]["socket_id"])

    async def _read(self) -> None:
        try:
            async for text in self.ws:
                try:
                    self.frames.append(decode(text))
                except ValueError:
                    self.frames.append({"event": "?", "raw": text[:200]})
        except websockets.ConnectionClosed:
            pass

    @property
    def open(self) -> bool:
        return not self.reader.done()

    async def close(self) -> None:
        await self.ws.close()
        await asyncio.wait_for(self.reader, 5)


async def pusher_noise(server, rng: random.Random, attempted: set[str]) -> tuple[list[FuzzClient], int]:
    """Each client sends its noise; a closed one is replaced. All clients used, and frames sent."""
    noise = PusherNoise(rng, KEY)
    clients, sent = [], 0
    for _ in range(PUSHER_CLIENTS):
        client = await FuzzClient.connect(server.ws_url())
        clients.append(client)
        for _ in range(MESSAGES_PER_CLIENT):
            if not client.open:
                client = await FuzzClient.connect(server.ws_url())
                clients.append(client)
            if rng.random() < 0.35:
                channel, message = noise.subscription(client.socket_id)
                attempted.add(channel)
                text = json.dumps(message)
            else:
                text = noise.message()
            if len(text) > settings.REALTIME_MAX_MESSAGE_BYTES:
                # It costs its sender the connection (1009): a throwaway one, so that the fuzz
                # clients stay to hear a leaked broadcast.
                await send_oversized(server, text)
                sent += 1
                continue
            try:
                await client.ws.send(text)
                sent += 1
            except websockets.ConnectionClosed:
                pass
        await asyncio.sleep(0.05)  # let the answers to the last messages arrive
    return clients, sent


async def send_oversized(server, text: str | bytes) -> None:
    client = await FuzzClient.connect(server.ws_url())
    with contextlib.suppress(websockets.ConnectionClosed):
        await client.ws.send(text)
        await asyncio.wait_for(client.reader, 10)  # the server closes it
    await client.close()


async def leaked_broadcasts(clients: list[FuzzClient], channels: list[str]) -> list[dict]:
    """Broadcast on each guarded channel the fuzz tried; what of it reached a fuzz client."""
    for channel in channels:
        await abroadcast(channel, BROADCAST_EVENT, {"secret": channel})
    await asyncio.sleep(1.0)
    return [frame for client in clients for frame in client.frames if frame.get("event") == BROADCAST_EVENT]


async def well_behaved_client_is_served(server) -> None:
    client = await PusherClient.connect(server.ws_url())
    await client.send("pusher:ping")
    await client.expect("pusher:pong")
    channel = "private-fuzz.control"
    answer = await client.subscribe(channel, **signed(client.socket_id, channel))
    assert answer["event"] == SUCCEEDED, answer
    await abroadcast(channel, "fuzz.control", {"ok": True})
    assert (await client.expect("fuzz.control", channel))["data"]["ok"] is True
    await client.close()


PRESENCE_PREFIX = f"{PREFIX}presence:"


def left_in_redis(channels: set[str]) -> list[str]:
    """Presence entries of `channels` still in Redis (none once their subscribers are gone)."""
    store = redis.Redis.from_url(settings.REDIS_URL)
    keys = [f"{PRESENCE_PREFIX}{c}" for c in channels if protocol.valid_channel_name(c)]
    return [key for key in keys if store.exists(key)]


# --- /broadcasting/auth -----------------------------------------------------------------------


def auth_posts(server, rng: random.Random, token: str, user: User) -> dict[int, int]:
    """Random channel names and socket ids at /broadcasting/auth; statuses seen."""
    noise = PusherNoise(rng, KEY)
    client = KeepAliveClient(server.port)
    statuses: dict[int, int] = {}
    own_channel = f"private-user.{user.pk}"
    try:
        for number in range(AUTH_POSTS):
            channel = noise.channel()
            socket_id = "1234.5678"
            if rng.random() < 0.2:
                socket_id = rng.choice(["1.1", "", "x.y", "1" * 30 + ".1", "12.34\n", "1234.5678 "])
            body = urllib.parse.urlencode({"socket_id": socket_id, "channel_name": channel}).encode()
            headers_token = token if number % 2 else None
            status, text = post_auth(client, body, headers_token)
            statuses[status] = statuses.get(status, 0) + 1
            assert status < 500, (channel, socket_id, status, text[:300])
            if status == 200:
                granted = headers_token and channel == own_channel
                assert granted, (
                    f"granted {channel!r} to {'the user' if headers_token else 'anyone'}: {text!r}"
                )
    finally:
        client.close()
    return statuses


def post_auth(client: KeepAliveClient, body: bytes, token: str | None) -> tuple[int, bytes]:
    connection = client.connection
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if token:
        headers["Authorization"] = f"Token {token}"
    connection.request("POST", "/broadcasting/auth", body=body, headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


# --- the test ---------------------------------------------------------------------------------


def test_random_frames_and_channel_names_neither_crash_the_server_nor_subscribe_anyone(server):
    user = User.objects.create_user("fuzz-nobody")
    token = AuthToken.objects.create(user=user)[1]
    rng = random.Random(SEED)
    attempted: set[str] = set()

    async def scenario():
        started = time.monotonic()
        raw_sent = await raw_frames(server.port, rng)
        timings["raw frames"] = time.monotonic() - started
        clients, sent = await pusher_noise(server, rng, attempted)
        timings["pusher noise"] = time.monotonic() - started - timings["raw frames"]
        unauthorized = [
            frame
            for client in clients
            for frame in client.frames
            if frame.get("event") == SUCCEEDED and guarded(frame.get("channel"))
        ]
        assert not unauthorized, unauthorized[:5]
        guarded_names = sorted(c for c in attempted if guarded(c) and protocol.valid_channel_name(c))
        assert len(guarded_names) > 100, "the fuzz asked for private and presence channels"
        live = [client for client in clients if client.open]
        assert live, "some fuzz clients are still connected to hear a leaked broadcast"
        leaked = await leaked_broadcasts(live, guarded_names)
        assert not leaked, leaked[:5]
        for client in clients:
            await client.close()
        await asyncio.to_thread(
            wait_until,
            lambda: not left_in_redis(attempted),
            30,
            "the fuzz clients' presence entries are gone",
        )
        await well_behaved_client_is_served(server)
        return raw_sent, sent

    timings: dict[str, float] = {}
    raw_sent, sent = asyncio.run(scenario())
    started = time.monotonic()
    statuses = auth_posts(server, rng, token, user)
    timings["auth posts"] = time.monotonic() - started

    unexpected = unexpected_tracebacks(server.process.lines, EXPECTED_BEFORE_TRACEBACK)
    assert not unexpected, "\n\n".join(unexpected[:3])
    assert "Exception in ASGI application" not in server.process.output
    assert server.process.proc.poll() is None, "the server is still running"
    seconds = ", ".join(f"{name} {value:.1f} s" for name, value in timings.items())
    print(f"{raw_sent} raw frames, {sent} Pusher messages, {AUTH_POSTS} auth posts {statuses}; {seconds}")
