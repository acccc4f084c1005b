"""Malformed websocket frames at a real server: a Pusher error each, no traceback, nothing left behind.

A real uvicorn serves opsproject.asgi (started as production starts it, --ws-max-size included);
a real websocket client sends what a hostile or broken client would. Each frame gets
`pusher:error` with a 4xxx code and the connection goes on serving; once such a client goes
away, its subscriptions and presence entry go at once.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import redis
import websockets
from django.conf import settings

from realtime import protocol
from realtime.store import PREFIX
from tests.realtime.support import PusherClient, asgi_server, signed
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db

DEEP = "[" * 5000 + "]" * 5000  # under the 10 KB limit, far over the JSON parser's recursion limit


def subscribe(data: object) -> str:
    return json.dumps({"event": "pusher:subscribe", "data": data})


MALFORMED = {
    "event is a number": json.dumps({"event": 5, "data": "x"}),
    "event is null": json.dumps({"event": None, "data": {}}),
    "event is a list": json.dumps({"event": ["pusher:ping"], "data": "x"}),
    "event is an object": json.dumps({"event": {"a": 1}, "data": "{}"}),
    "event is empty": json.dumps({"event": "", "data": {}}),
    "no event": json.dumps({"data": {"channel": "news"}}),
    "a list": json.dumps([{"event": "pusher:ping"}]),
    "a string": json.dumps("pusher:ping"),
    "a number": "5",
    "null": "null",
    "not JSON": "{event: pusher:ping",
    "empty text": "",
    "deep nesting": DEEP,
    "deep nesting in data": json.dumps({"event": "pusher:subscribe", "data": DEEP}),
    "deep nesting in an object": '{"event":"client-x","data":' + DEEP + "}",
    "data is a number": json.dumps({"event": "pusher:subscribe", "data": 5}),
    "data is a list": json.dumps({"event": "pusher:subscribe", "data": ["news"]}),
    "data is a JSON list": json.dumps({"event": "pusher:subscribe", "data": '["news"]'}),
    "data is broken JSON": json.dumps({"event": "pusher:subscribe", "data": "{"}),
    "channel is a number": json.dumps({"event": "pusher:subscribe", "data": {"channel": 5}}),
    "channel is a list": json.dumps({"event": "pusher:subscribe", "data": {"channel": ["news"]}}),
    "channel is an object": json.dumps({"event": "pusher:unsubscribe", "data": {"channel": {"a": []}}}),
    "auth is a number": subscribe({"channel": "private-a", "auth": 5}),
    "auth is a list": subscribe({"channel": "private-a", "auth": ["k"]}),
    "channel_data is an object": subscribe({"channel": "presence-a", "auth": "k", "channel_data": {}}),
    "channel_data is a number": subscribe({"channel": "presence-a", "auth": "k:s", "channel_data": 5}),
    "client event channel is a number": json.dumps({"event": "client-x", "channel": 5, "data": {}}),
    "client event channel is an object": json.dumps({"event": "client-x", "channel": {"a": 1}, "data": {}}),
    "unknown pusher event": json.dumps({"event": "pusher:nonsense", "data": {}}),
    "surrogate escapes": '{"event": "\\ud800", "data": "\\udfff"}',
}


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    with asgi_server() as running_server:
        yield running_server


def no_tracebacks(server) -> None:
    output = server.process.output
    assert "Traceback" not in output, output[-4000:]
    assert "Exception in ASGI application" not in output
    assert server.process.proc.poll() is None, "the server is still running"


async def still_served(client: PusherClient) -> None:
    await client.send("pusher:ping")
    await client.expect("pusher:pong")


@pytest.mark.parametrize("text", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_frame_gets_a_pusher_error_and_the_connection_goes_on(server, text):
    async def scenario():
        client = await PusherClient.connect(server.ws_url())
        await client.ws.send(text)
        error = await client.expect("pusher:error")
        assert 4000 <= error["data"]["code"] < 4400, error
        await still_served(client)
        await client.close()

    asyncio.run(scenario())
    no_tracebacks(server)


def test_binary_frame_gets_a_pusher_error_and_the_connection_goes_on(server):
    async def scenario():
        client = await PusherClient.connect(server.ws_url())
        await client.ws.send(json.dumps({"event": "pusher:ping", "data": {}}).encode())
        error = await client.expect("pusher:error")
        assert error["data"] == {"code": protocol.INVALID_MESSAGE, "message": "Invalid message format"}
        await client.ws.send(b"\x00\xff" * 100)
        assert (await client.expect("pusher:error"))["data"]["code"] == protocol.INVALID_MESSAGE
        await still_served(client)
        await client.close()

    asyncio.run(scenario())
    no_tracebacks(server)


def test_a_text_frame_that_is_not_utf8_is_closed_1007_with_one_warning_and_no_traceback(server):
    """uvicorn's sans-I/O protocol logs it as an ERROR with a traceback: one per connection any
    client opens (opsproject/logs.py, CLIENT_MISTAKES)."""

    async def scenario():
        client = await PusherClient.connect(server.ws_url())
        await client.ws.send(b'{"event": "\xff\xfe"}', text=True)
        with pytest.raises(websockets.ConnectionClosedError) as closed:
            await client.next()
        assert closed.value.rcvd.code == 1007

    asyncio.run(scenario())
    wait_until(lambda: "Invalid UTF-8" in server.process.output, 30, "the server's warning")
    line = next(line for line in server.process.output.splitlines() if "Invalid UTF-8" in line)
    assert "WARNING" in line.upper() and "ERROR" not in line.upper(), line
    no_tracebacks(server)


# --- what a client leaves behind ---------------------------------------------------------------


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def presence_key(channel: str) -> str:
    """Where realtime keeps a presence channel's members (realtime.store)."""
    return f"{PREFIX}presence:{channel}"


async def leaves_nothing_behind(server, misbehave) -> None:
    """A client subscribes, `misbehave`s, goes away: its presence entry goes at once."""
    tag = uuid.uuid4().hex[:12]
    public, presence = f"leak-{tag}", f"presence-leak-{tag}"
    client = await PusherClient.connect(server.ws_url())
    watcher = await PusherClient.connect(server.ws_url())
    await watcher.subscribe(presence, **signed(watcher.socket_id, presence, {"user_id": "watcher"}))
    assert (await client.subscribe(public))["event"] == "pusher_internal:subscription_succeeded"
    ok = await client.subscribe(presence, **signed(client.socket_id, presence, {"user_id": "leaver"}))
    assert ok["event"] == "pusher_internal:subscription_succeeded"
    await watcher.expect("pusher_internal:member_added", presence)
    store = redis_client()
    assert store.hexists(presence_key(presence), client.socket_id)

    await misbehave(client)

    removed = await watcher.expect("pusher_internal:member_removed", presence, timeout=30)
    assert removed["data"] == {"user_id": "leaver"}

    def all_gone() -> bool:
        in_presence = store.hexists(presence_key(presence), client.socket_id)
        return not in_presence

    await asyncio.to_thread(wait_until, all_gone, 30, "the leaver's presence entry is gone")
    # The watcher's own subscription is untouched.
    assert store.hexists(presence_key(presence), watcher.socket_id)
    await watcher.close()


def test_a_client_that_sent_a_malformed_frame_leaves_nothing_behind(server):
    async def malformed_then_gone(client):
        await client.ws.send(json.dumps({"event": 5, "data": "x"}))
        assert (await client.expect("pusher:error"))["data"]["code"] == protocol.INVALID_MESSAGE
        await client.close()

    asyncio.run(leaves_nothing_behind(server, malformed_then_gone))
    no_tracebacks(server)


def test_a_client_that_vanished_without_a_close_leaves_nothing_behind(server):
    async def malformed_then_dropped(client):
        await client.ws.send(json.dumps({"event": {"x": 1}, "data": "x"}))
        await client.expect("pusher:error")
        client.ws.transport.abort()  # no close frame: the TCP connection just ends

    asyncio.run(leaves_nothing_behind(server, malformed_then_dropped))
    no_tracebacks(server)
