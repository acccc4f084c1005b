"""Hostile websocket handshakes at a real server: a refusal with its code, never a traceback.

What a client controls before its first message: the `protocol` query parameter and the
Origin header. A real uvicorn serves opsproject.asgi with an origin pattern that has a scheme
and a port check (REALTIME_ALLOWED_ORIGINS), so every branch of the origin match is reached.
"""

from __future__ import annotations

import asyncio

import pytest
import websockets

from realtime import protocol
from tests.realtime.support import PusherClient, asgi_server, decode
from tests.security.test_websocket_frames import no_tracebacks

pytestmark = pytest.mark.django_db

ALLOWED = "https://app.example.com"


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    with asgi_server(REALTIME_ALLOWED_ORIGINS=ALLOWED) as running_server:
        yield running_server


VERSIONS = {
    "a superscript digit": "%C2%B2",  # str.isdigit() is true for it, int() refuses it
    "an Arabic-Indic digit": "%D9%A7",
    "5000 digits": "9" * 5000,  # past Python's int-from-string digit limit
    "a negative number": "-7",
    "a NUL byte": "%00",
}


@pytest.mark.parametrize("version", VERSIONS.values(), ids=VERSIONS.keys())
def test_an_unusable_protocol_version_is_refused_with_4007(server, version):
    async def scenario():
        async with websockets.connect(server.ws_url(query=f"protocol={version}"), ping_interval=None) as ws:
            error = decode(await asyncio.wait_for(ws.recv(), 10))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
        assert error["data"]["code"] == protocol.UNSUPPORTED_PROTOCOL, error
        assert closed.value.rcvd.code == protocol.UNSUPPORTED_PROTOCOL

    asyncio.run(scenario())
    no_tracebacks(server)


def test_the_versions_pusher_js_sends_are_accepted(server):
    async def scenario():
        for version in ("5", "6", "7"):
            client = await PusherClient.connect(server.ws_url(query=f"protocol={version}"))
            await client.close()

    asyncio.run(scenario())
    no_tracebacks(server)


ORIGINS = {
    "an unclosed IPv6 bracket": "http://[",
    "a port out of range": "https://app.example.com:99999",
    "a port that is not a number": "https://app.example.com:https",
    "a negative port": "https://app.example.com:-1",
    "not latin-1 text": "https://\xff\xfe",
}


@pytest.mark.parametrize("origin", ORIGINS.values(), ids=ORIGINS.keys())
def test_an_unparseable_origin_is_refused_with_403(server, origin):
    start = len(server.process.lines)

    async def scenario():
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(server.ws_url(), additional_headers={"Origin": origin})
        return refused.value.response.status_code

    assert asyncio.run(scenario()) == 403
    no_tracebacks(server)
    server.process.wait_for_line(r"refused websocket /app/.* origin .* is not in ALLOWED_HOSTS", 10, start)


def test_the_allowed_origin_is_still_admitted(server):
    async def scenario():
        client = await PusherClient.connect(server.ws_url(), additional_headers={"Origin": ALLOWED})
        await client.send("pusher:ping")
        await client.expect("pusher:pong")
        await client.close()

    asyncio.run(scenario())
    no_tracebacks(server)
