"""The limits of one websocket client at a real server: each refused with its Pusher code, others unharmed.

Message size (4009, or uvicorn's 1009 when --ws-max-size cuts first), subscriptions per
connection (4009), connections per client address (4100, the forwarded address only from a
trusted proxy), subscribe and client-event rates (4301, then closed). Each server is a real
uvicorn serving opsproject.asgi with small limits; the clients are real websockets.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import websockets

from realtime import protocol
from realtime.broadcasting import abroadcast
from tests.realtime.support import PusherClient, asgi_server, decode, signed
from tests.security.test_websocket_frames import leaves_nothing_behind, no_tracebacks, still_served
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db

SIZE = 10240  # the default REALTIME_MAX_MESSAGE_BYTES, Pusher's 10 KB
SUCCEEDED = "pusher_internal:subscription_succeeded"


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    """Production's message size and flag; 5 subscriptions, slow subscribe and whisper rates."""
    env = {"REALTIME_MAX_SUBSCRIPTIONS": "5", "REALTIME_CLIENT_EVENT_RATE": "2"}
    with asgi_server(REALTIME_CLIENT_EVENTS="true", **env) as running_server:
        yield running_server


@pytest.fixture(scope="module")
def flagless_server(django_db_setup, django_db_blocker):
    """A server started without --ws-max-size: the app's own check is all there is."""
    with asgi_server(ws_max_size=False) as running_server:
        yield running_server


def ping_of(size: int) -> str:
    """A pusher:ping frame of exactly `size` bytes."""
    empty = json.dumps({"event": "pusher:ping", "data": {"pad": ""}})
    return json.dumps({"event": "pusher:ping", "data": {"pad": "x" * (size - len(empty))}})


async def refusal(url: str, **kwargs) -> tuple[dict, int]:
    """The pusher:error and close code a refused connection gets."""
    async with websockets.connect(url, ping_interval=None, **kwargs) as ws:
        error = decode(await asyncio.wait_for(ws.recv(), 10))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    return error, closed.value.rcvd.code


# --- message size -----------------------------------------------------------------------------


def test_a_message_at_the_size_limit_passes_and_one_byte_more_is_closed_by_the_server(server):
    async def scenario():
        bystander = await PusherClient.connect(server.ws_url())
        client = await PusherClient.connect(server.ws_url())
        await client.ws.send(ping_of(SIZE))
        await client.expect("pusher:pong")
        await client.ws.send(ping_of(SIZE + 1))
        assert await client.close_code() == 1009  # uvicorn's --ws-max-size: never read
        await still_served(bystander)
        await bystander.close()

    asyncio.run(scenario())
    no_tracebacks(server)


def test_without_the_server_flag_the_app_refuses_an_oversized_message_with_4009(flagless_server):
    async def scenario():
        bystander = await PusherClient.connect(flagless_server.ws_url())
        client = await PusherClient.connect(flagless_server.ws_url())
        await client.ws.send(ping_of(SIZE))
        await client.expect("pusher:pong")
        await client.ws.send(ping_of(200_000))
        error = await client.expect("pusher:error")
        assert error["data"]["code"] == protocol.UNAUTHORIZED
        assert "over the limit of 10240 bytes" in error["data"]["message"]
        assert await client.close_code() == protocol.UNAUTHORIZED
        await still_served(bystander)
        await bystander.close()

    asyncio.run(scenario())
    no_tracebacks(flagless_server)


def test_a_client_closed_for_an_oversized_message_leaves_nothing_behind(flagless_server):
    async def oversized(client):
        await client.ws.send(ping_of(SIZE + 1))
        assert await client.close_code() == protocol.UNAUTHORIZED

    asyncio.run(leaves_nothing_behind(flagless_server, oversized))


# --- subscriptions per connection -------------------------------------------------------------


def test_subscriptions_past_the_limit_are_refused_with_4009_and_the_others_kept(server):
    tag = uuid.uuid4().hex[:8]

    async def scenario():
        client = await PusherClient.connect(server.ws_url())
        other = await PusherClient.connect(server.ws_url())
        for n in range(5):
            assert (await client.subscribe(f"many-{tag}-{n}"))["event"] == SUCCEEDED
        refused = await client.subscribe(f"many-{tag}-5")
        assert refused["event"] == "pusher:error" and refused["data"]["code"] == protocol.UNAUTHORIZED
        channel_error = await client.expect("pusher:subscription_error", f"many-{tag}-5")
        assert channel_error["data"]["status"] == 429
        # Private channels count the same: a signature does not lift the limit.
        private = f"private-many-{tag}"
        refused = await client.subscribe(private, **signed(client.socket_id, private))
        assert refused["event"] == "pusher:error" and refused["data"]["code"] == protocol.UNAUTHORIZED
        # Subscribing again to a channel held costs nothing; leaving one makes room.
        assert (await client.subscribe(f"many-{tag}-0"))["event"] == SUCCEEDED
        await client.send("pusher:unsubscribe", {"channel": f"many-{tag}-0"})
        assert (await client.subscribe(f"many-{tag}-5"))["event"] == SUCCEEDED
        # Another connection has its own allowance.
        assert (await other.subscribe(f"many-{tag}-9"))["event"] == SUCCEEDED
        await client.close()
        await other.close()

    asyncio.run(scenario())
    no_tracebacks(server)


# --- rates --------------------------------------------------------------------------------------


def test_a_client_flooding_subscribe_requests_is_refused_with_4301_then_closed():
    async def scenario(srv):
        bystander = await PusherClient.connect(srv.ws_url())
        client = await PusherClient.connect(srv.ws_url())
        # Bursts of 2 x 3 subscriptions, then 1 a second: a page's own subscriptions pass.
        for n in range(3):
            await client.send("pusher:subscribe", {"channel": f"flood-{n}"})
        for n in range(3):
            await client.expect(SUCCEEDED, f"flood-{n}")
        assert not [f for f in client.frames if f["event"] == "pusher:error"]
        for n in range(40):
            try:
                await client.send("pusher:subscribe", {"channel": f"flood-{n}"})
            except websockets.ConnectionClosed:
                break
        codes = []
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                frame = await client.next(10)
                if frame["event"] == "pusher:error":
                    codes.append(frame["data"]["code"])
        assert protocol.RATE_LIMITED in codes
        assert closed.value.rcvd.code == protocol.RATE_LIMITED
        await still_served(bystander)
        await bystander.close()

    with asgi_server(REALTIME_MAX_SUBSCRIPTIONS="3", REALTIME_SUBSCRIBE_RATE="1") as srv:
        asyncio.run(scenario(srv))
        no_tracebacks(srv)


def test_a_client_flooding_garbage_without_reading_is_closed_with_4301(server):
    """Each malformed frame earns a reply; one that never reads them must not pile them up."""

    async def scenario():
        bystander = await PusherClient.connect(server.ws_url())
        client = await PusherClient.connect(server.ws_url())
        for _ in range(200):  # the server's burst is 2 x 5 messages
            try:
                await client.ws.send("not json")
            except websockets.ConnectionClosed:
                break
        assert await client.close_code() == protocol.RATE_LIMITED
        refusals = [f["data"]["code"] for f in client.frames if f["event"] == "pusher:error"]
        assert protocol.INVALID_MESSAGE in refusals and protocol.RATE_LIMITED in refusals
        assert len(refusals) < 40, "replies stop once the client is closed"
        await still_served(bystander)
        await bystander.close()

    asyncio.run(scenario())
    no_tracebacks(server)


def test_client_events_past_their_rate_are_refused_with_4301_then_the_sender_is_closed(server):
    channel = f"presence-whisper.{uuid.uuid4().hex}"

    async def scenario():
        ann = await PusherClient.connect(server.ws_url())
        bob = await PusherClient.connect(server.ws_url())
        await ann.subscribe(channel, **signed(ann.socket_id, channel, {"user_id": "1"}))
        await bob.subscribe(channel, **signed(bob.socket_id, channel, {"user_id": "2"}))
        await ann.send("client-typing", {"n": 0}, channel=channel)
        await ann.send("client-typing", {"n": 1}, channel=channel)
        await ann.send("client-typing", {"n": 2}, channel=channel)
        assert (await ann.expect("pusher:error"))["data"]["code"] == protocol.RATE_LIMITED
        for n in range(3, 30):
            try:
                await ann.send("client-typing", {"n": n}, channel=channel)
            except websockets.ConnectionClosed:
                break
        assert await ann.close_code() == protocol.RATE_LIMITED
        # Every whisper ann got through was in the layer before she was closed: a broadcast
        # sent now reaches bob after all of them.
        await abroadcast(channel, "after", {})
        await bob.expect("after", channel)
        whispers = [f for f in bob.frames if f["event"] == "client-typing"]
        assert 2 <= len(whispers) < 10, whispers  # the burst, and what refilled while ann sent
        await still_served(bob)
        await bob.close()

    asyncio.run(scenario())
    no_tracebacks(server)


# --- connections per client address -------------------------------------------------------------


def test_connections_past_the_per_address_limit_are_refused_with_4100_and_a_slot_comes_back():
    async def scenario(srv):
        clients = [await PusherClient.connect(srv.ws_url()) for _ in range(3)]
        error, code = await refusal(srv.ws_url())
        assert (error["data"]["code"], code) == (protocol.OVER_CAPACITY, protocol.OVER_CAPACITY)
        # The proxy header of a client the server does not trust changes nothing.
        error, code = await refusal(srv.ws_url(), additional_headers={"X-Forwarded-For": "203.0.113.7"})
        assert code == protocol.OVER_CAPACITY
        # A client that misbehaved and went away gives its slot back at once.
        await clients[0].ws.send(json.dumps({"event": 5, "data": "x"}))
        await clients[0].expect("pusher:error")
        clients[0].ws.transport.abort()

        async def admitted() -> bool:
            try:
                replacement = await PusherClient.connect(srv.ws_url())
            except AssertionError:  # refused: the first frame was the 4100
                return False
            await replacement.close()
            return True

        await asyncio.to_thread(wait_until, lambda: asyncio.run(admitted()), 30, "a connection is admitted")
        for client in clients[1:]:
            await still_served(client)
            await client.close()

    # The server trusts forwarded addresses from another host only: these clients are 127.0.0.1.
    with asgi_server(REALTIME_MAX_CONNECTIONS_PER_IP="3", FORWARDED_ALLOW_IPS="192.0.2.1") as srv:
        asyncio.run(scenario(srv))
        no_tracebacks(srv)
        srv.process.wait_for_line(r"refused a connection from 127\.0\.0\.1: over REALTIME_MAX_CONNECTIONS")


def test_behind_a_trusted_proxy_the_forwarded_address_is_counted():
    def via(address: str) -> dict:
        return {"additional_headers": {"X-Forwarded-For": address}}

    async def scenario(srv):
        clients = [await PusherClient.connect(srv.ws_url(), **via("203.0.113.7")) for _ in range(2)]
        error, code = await refusal(srv.ws_url(), **via("203.0.113.7"))
        assert (error["data"]["code"], code) == (protocol.OVER_CAPACITY, protocol.OVER_CAPACITY)
        clients.append(await PusherClient.connect(srv.ws_url(), **via("203.0.113.8")))
        clients.append(await PusherClient.connect(srv.ws_url()))  # the proxy's own address
        for client in clients:
            await still_served(client)
            await client.close()

    with asgi_server(REALTIME_MAX_CONNECTIONS_PER_IP="2", FORWARDED_ALLOW_IPS="127.0.0.1") as srv:
        asyncio.run(scenario(srv))
        no_tracebacks(srv)
        srv.process.wait_for_line(r"refused a connection from 203\.0\.113\.7")


def test_an_ipv6_client_counts_as_its_whole_64_behind_a_trusted_proxy():
    """Whoever has one IPv6 address has its /64: another address of it is no new allowance."""

    def via(address: str) -> dict:
        return {"additional_headers": {"X-Forwarded-For": address}}

    async def scenario(srv):
        clients = [
            await PusherClient.connect(srv.ws_url(), **via("2001:db8:1:2::1")),
            await PusherClient.connect(srv.ws_url(), **via("2001:db8:1:2:ffff:ffff:ffff:fffe")),
        ]
        error, code = await refusal(srv.ws_url(), **via("2001:db8:1:2::99"))
        assert (error["data"]["code"], code) == (protocol.OVER_CAPACITY, protocol.OVER_CAPACITY)
        clients.append(await PusherClient.connect(srv.ws_url(), **via("2001:db8:1:3::1")))  # next /64
        for client in clients:
            await still_served(client)
            await client.close()

    with asgi_server(REALTIME_MAX_CONNECTIONS_PER_IP="2", FORWARDED_ALLOW_IPS="127.0.0.1") as srv:
        asyncio.run(scenario(srv))
        no_tracebacks(srv)
        srv.process.wait_for_line(r"refused a connection from 2001:db8:1:2::99")
