"""Real pieces for the realtime tests: a uvicorn server, a Redis of our own, a Pusher client."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import websockets
from django.conf import settings

from realtime import protocol
from tests.support.celery_worker import child_env
from tests.support.processes import BIN, ManagedProcess, free_port, running

KEY = settings.REALTIME_APP_KEY

# Quick enough for tests, slow enough not to flake on a loaded machine.
FAST = {"REALTIME_LAYER_CHECK_INTERVAL": "0.5", "REALTIME_SHUTDOWN_GRACE": "2"}


@dataclass
class Server:
    process: ManagedProcess
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, key: str = KEY, query: str = "protocol=7&client=python&version=1.0") -> str:
        return f"ws://127.0.0.1:{self.port}/app/{key}?{query}"


REALTIME_APP = "opsproject.asgi:realtime_application"  # compose's realtime service, make run
WEB_APP = "opsproject.asgi:application"  # compose's web service: no hub until a websocket comes


@contextmanager
def asgi_server(ws_max_size: bool = True, app: str = REALTIME_APP, **env: str) -> Iterator[Server]:
    """uvicorn serving opsproject.asgi, on this test's database and (unless told) Redis.

    Started as production starts the realtime service (its hub starts with the process): the
    ASGI lifespan on, uvicorn's sans-I/O websockets protocol, --ws-max-size the message limit
    the app enforces, unless `ws_max_size` is false (a server started without the flag).
    `app=WEB_APP` serves as the web service.
    """
    port = free_port()
    lifespan = "on" if app == REALTIME_APP else "off"
    argv = [str(BIN / "uvicorn"), app, "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--lifespan", lifespan, "--log-level", "info"]
    argv += ["--ws", "websockets-sansio"]  # as every realtime server command has it
    if ws_max_size:
        limit = env.get("REALTIME_MAX_MESSAGE_BYTES") or settings.REALTIME_MAX_MESSAGE_BYTES
        argv += ["--ws-max-size", str(limit)]
    with running(argv, env={**child_env(), **FAST, **env}) as process:
        process.wait_for_line(r"Uvicorn running on", timeout=60)
        yield Server(process, port)


@contextmanager
def own_redis(port: int | None = None) -> Iterator[tuple[ManagedProcess, int]]:
    """A redis-server of our own on a free port: the machine's shared one is never touched."""
    port = port or free_port()
    redis = shutil.which("redis-server") or "/usr/bin/redis-server"
    argv = [redis, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with running(argv) as process:
        process.wait_for_line(r"Ready to accept connections", timeout=30)
        yield process, port


def http(method: str, url: str, data: dict | None = None, headers: dict | None = None, form=True):
    """(status, parsed JSON body) of one request; errors come back as their status."""
    body = None
    headers = dict(headers or {})
    if data is not None:
        if form:
            body = urllib.parse.urlencode(data).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        else:
            body = json.dumps(data).encode()
            headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    try:
        return status, json.loads(text or b"null")
    except ValueError:
        return status, text.decode(errors="replace")


def token_headers(token: str) -> dict:
    return {"Authorization": f"Token {token}"}


class PusherClient:
    """A websocket speaking the Pusher protocol, from the tests' side.

    It answers the server's pusher:ping unless told not to, and keeps every frame it read.
    """

    def __init__(self, ws, established: dict, answer_pings: bool = True):
        self.ws = ws
        self.socket_id = established["data"]["socket_id"]
        self.activity_timeout = established["data"]["activity_timeout"]
        self.answer_pings = answer_pings
        self.frames: list[dict] = [established]

    @classmethod
    async def connect(cls, url: str, answer_pings: bool = True, **kwargs) -> PusherClient:
        ws = await websockets.connect(url, ping_interval=None, **kwargs)
        established = decode(await asyncio.wait_for(ws.recv(), 10))
        assert established["event"] == "pusher:connection_established", established
        return cls(ws, established, answer_pings)

    async def send(self, event: str, data=None, channel: str | None = None) -> None:
        message = {"event": event, "data": {} if data is None else data}
        if channel is not None:
            message["channel"] = channel
        await self.ws.send(json.dumps(message))

    async def next(self, timeout: float = 5.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            message = decode(await asyncio.wait_for(self.ws.recv(), max(deadline - time.monotonic(), 0)))
            self.frames.append(message)
            if message["event"] == "pusher:ping" and self.answer_pings:
                await self.send("pusher:pong")
                continue
            return message

    async def expect(self, event: str, channel: str | None = None, timeout: float = 5.0) -> dict:
        """The next frame named `event` (on `channel`), skipping others; fails after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {event} on {channel} in {timeout} s; read {self.frames[-10:]}")
            try:
                message = await self.next(remaining)
            except TimeoutError:
                continue
            if message["event"] == event and (channel is None or message.get("channel") == channel):
                return message

    async def quiet(self, seconds: float = 0.5) -> list[dict]:
        """Every frame that arrives within `seconds` (pings answered and left out)."""
        seen = []
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                seen.append(await self.next(remaining))
            except TimeoutError:
                break
        return seen

    async def subscribe(self, channel: str, auth: str | None = None, channel_data: str | None = None) -> dict:
        """Subscribe; the subscription_succeeded frame, or the pusher:error that refused it."""
        data = {"channel": channel}
        if auth is not None:
            data["auth"] = auth
        if channel_data is not None:
            data["channel_data"] = channel_data
        await self.send("pusher:subscribe", data)
        while True:
            message = await self.next()
            succeeded = message["event"] == "pusher_internal:subscription_succeeded"
            if message["event"] == "pusher:error" or (succeeded and message.get("channel") == channel):
                return message

    async def close_code(self, timeout: float = 10.0) -> int:
        """Read until the server closes; its close code."""
        try:
            while True:
                await self.next(timeout)
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else closed.code

    async def close(self) -> None:
        await self.ws.close()


def decode(text: str) -> dict:
    message = json.loads(text)
    if isinstance(message.get("data"), str):
        with suppress(ValueError):
            message["data"] = json.loads(message["data"])
    return message


def signed(socket_id: str, channel: str, member: dict | None = None) -> dict:
    """Subscription fields signed with the app secret, as /broadcasting/auth would."""
    if member is None:
        return {"auth": protocol.auth_token(socket_id, channel)}
    channel_data = json.dumps(member)
    return {"auth": protocol.auth_token(socket_id, channel, channel_data), "channel_data": channel_data}
