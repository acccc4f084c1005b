"""Forged or broken subscriptions at a real server: refused on their channel, never a traceback.

A real uvicorn serves opsproject.asgi; a real websocket client sends signatures and presence
data it made up. Each refusal is the connection-level 4009 and the channel's
pusher:subscription_error (what pusher-js and Echo wait for), and the client is not subscribed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid

import pytest

from realtime import protocol
from realtime.broadcasting import abroadcast
from tests.realtime.support import PusherClient, asgi_server, signed
from tests.security.test_websocket_frames import no_tracebacks

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    with asgi_server(REALTIME_CLIENT_EVENTS="true") as running_server:
        yield running_server


def raw_subscribe(data: str) -> str:
    """A subscribe frame whose data object is written by hand (JSON escapes json.dumps won't make)."""
    return '{"event":"pusher:subscribe","data":' + data + "}"


async def refused(client: PusherClient, channel: str) -> dict:
    """The 4009 and the channel's subscription_error; the channel's error payload."""
    error = await client.expect("pusher:error")
    assert error["data"]["code"] == protocol.UNAUTHORIZED, error
    channel_error = await client.expect("pusher:subscription_error", channel)
    assert channel_error["data"]["status"] == 403
    return channel_error["data"]


async def not_subscribed(client: PusherClient, channel: str) -> None:
    """A client event to `channel` is refused: the server does not count the client in."""
    await client.send("client-probe", {}, channel=channel)
    error = await client.expect("pusher:error")
    assert error["data"]["message"] == f"Not subscribed to {channel}", error


def test_an_auth_with_a_lone_surrogate_is_an_invalid_signature(server):
    channel = f"private-s.{uuid.uuid4().hex[:8]}"

    async def scenario():
        client = await PusherClient.connect(server.ws_url())
        await client.ws.send(raw_subscribe(f'{{"channel":"{channel}","auth":"\\ud800"}}'))
        assert (await refused(client, channel))["error"] == "invalid signature"
        await not_subscribed(client, channel)
        await client.close()

    asyncio.run(scenario())
    no_tracebacks(server)


def test_presence_channel_data_with_a_lone_surrogate_is_an_invalid_signature(server):
    channel = f"presence-s.{uuid.uuid4().hex[:8]}"

    async def scenario():
        client = await PusherClient.connect(server.ws_url())
        auth = protocol.auth_token(client.socket_id, channel, json.dumps({"user_id": "1"}))
        data = f'{{"channel":"{channel}","auth":"{auth}","channel_data":"{{\\"user_id\\":\\"\\ud800\\"}}"}}'
        await client.ws.send(raw_subscribe(data))
        assert (await refused(client, channel))["error"] == "invalid signature"
        await not_subscribed(client, channel)
        await client.close()

    asyncio.run(scenario())
    no_tracebacks(server)


def test_a_signature_for_another_socket_or_other_presence_data_is_refused(server):
    channel = f"presence-f.{uuid.uuid4().hex[:8]}"

    async def scenario():
        victim = await PusherClient.connect(server.ws_url())
        attacker = await PusherClient.connect(server.ws_url())
        # The victim's own authorization, replayed on the attacker's socket.
        stolen = signed(victim.socket_id, channel, {"user_id": "victim"})
        await attacker.send("pusher:subscribe", {"channel": channel, **stolen})
        await refused(attacker, channel)
        # The attacker's genuine authorization with the user swapped for another.
        own = signed(attacker.socket_id, channel, {"user_id": "attacker"})
        forged = {**own, "channel_data": json.dumps({"user_id": "admin"})}
        await attacker.send("pusher:subscribe", {"channel": channel, **forged})
        await refused(attacker, channel)
        await not_subscribed(attacker, channel)
        # The genuine one works, and names the user it was signed for.
        ok = await attacker.subscribe(channel, **own)
        assert ok["data"]["presence"]["ids"] == ["attacker"], ok
        await victim.close()
        await attacker.close()

    asyncio.run(scenario())
    no_tracebacks(server)


def test_a_public_channel_named_like_a_hashed_group_cannot_unplug_that_channel(server):
    """Channel names the layer cannot take as group names are hashed; "h.<that hash>" is a
    valid public channel name. Subscribing to it and leaving must not take this process out of
    the hashed channel's group: its subscribers here would stop hearing broadcasts."""
    channel = f"private-{'long-name.' * 9}{uuid.uuid4().hex}"  # past the 80 characters a group takes
    lookalike = "h." + hashlib.sha256(channel.encode()).hexdigest()
    assert protocol.valid_channel_name(lookalike)

    async def scenario():
        victim = await PusherClient.connect(server.ws_url())
        attacker = await PusherClient.connect(server.ws_url())
        ok = await victim.subscribe(channel, **signed(victim.socket_id, channel))
        assert ok["event"] == "pusher_internal:subscription_succeeded", ok
        assert (await attacker.subscribe(lookalike))["event"] == "pusher_internal:subscription_succeeded"
        await attacker.send("pusher:unsubscribe", {"channel": lookalike})
        await attacker.send("pusher:ping")
        await attacker.expect("pusher:pong")  # the unsubscribe is handled
        await abroadcast(channel, "secret", {"n": 1})
        assert (await victim.expect("secret", channel, timeout=10))["data"]["n"] == 1
        assert not [f for f in attacker.frames if f.get("channel") == channel]
        await victim.close()
        await attacker.close()

    asyncio.run(scenario())
    no_tracebacks(server)


def test_subscribing_again_to_a_presence_channel_announces_no_new_arrival(server):
    channel = f"presence-again.{uuid.uuid4().hex[:8]}"

    async def scenario():
        ann = await PusherClient.connect(server.ws_url())
        bob = await PusherClient.connect(server.ws_url())
        await bob.subscribe(channel, **signed(bob.socket_id, channel, {"user_id": "bob"}))
        ann_auth = signed(ann.socket_id, channel, {"user_id": "ann"})
        for _ in range(4):  # once to join, then the same signed subscription again
            ok = await ann.subscribe(channel, **ann_auth)
            assert sorted(ok["data"]["presence"]["ids"]) == ["ann", "bob"], ok
        await abroadcast(channel, "after", {})  # reaches bob after any announcement above
        await bob.expect("after", channel)
        arrivals = [f for f in bob.frames if f["event"] == "pusher_internal:member_added"]
        assert [f["data"]["user_id"] for f in arrivals] == ["ann"], arrivals
        assert not [f for f in bob.frames if f["event"] == "pusher_internal:member_removed"]
        await ann.close()
        assert (await bob.expect("pusher_internal:member_removed", channel))["data"] == {"user_id": "ann"}
        await bob.close()

    asyncio.run(scenario())
    no_tracebacks(server)
