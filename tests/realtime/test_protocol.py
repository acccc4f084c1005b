"""The Pusher protocol as a real server speaks it, read by a plain Python websocket client."""

import asyncio
import json
import uuid

import pytest
import websockets

from realtime import abroadcast, protocol
from tests.realtime.support import PusherClient, asgi_server, signed

pytestmark = pytest.mark.django_db


def test_handshake_tells_socket_id_and_activity_timeout(server):
    async def scenario():
        client = await PusherClient.connect(server.ws_url())
        established = client.frames[0]
        assert protocol.valid_socket_id(established["data"]["socket_id"])
        assert established["data"]["activity_timeout"] == 120
        other = await PusherClient.connect(server.ws_url())
        assert other.socket_id != client.socket_id
        await client.close()
        await other.close()

    asyncio.run(scenario())


def test_unknown_app_key_gets_4001_and_is_closed(server):
    async def scenario():
        async with websockets.connect(server.ws_url(key="not-our-key")) as ws:
            error = json.loads(await ws.recv())
            assert error["event"] == "pusher:error"
            assert json.loads(error["data"])["code"] == 4001
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd.code == 4001

    asyncio.run(scenario())
    server.process.wait_for_line(r"unknown app key 'not-our-key'")


def test_unsupported_protocol_version_gets_4007(server):
    async def scenario():
        async with websockets.connect(server.ws_url(query="protocol=3")) as ws:
            error = json.loads(await ws.recv())
            assert json.loads(error["data"])["code"] == 4007
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd.code == 4007

    asyncio.run(scenario())


def test_client_ping_gets_pong(server):
    async def scenario():
        client = await PusherClient.connect(server.ws_url())
        await client.send("pusher:ping")
        assert (await client.next())["event"] == "pusher:pong"
        await client.close()

    asyncio.run(scenario())


def test_public_channel_receives_broadcasts_with_increasing_event_ids(server):
    async def scenario():
        client = await PusherClient.connect(server.ws_url())
        assert (await client.subscribe("news"))["event"] == "pusher_internal:subscription_succeeded"
        first = await abroadcast("news", "story.published", {"title": "one"})
        second = await abroadcast("news", "story.published", {"title": "two"})
        assert second > first
        one = await client.expect("story.published", "news")
        two = await client.expect("story.published", "news")
        # The id rides in the frame and, for object payloads, in the payload listeners get.
        assert (one["data"], one["event_id"]) == ({"title": "one", "event_id": first}, first)
        assert (two["data"], two["event_id"]) == ({"title": "two", "event_id": second}, second)
        await client.send("pusher:unsubscribe", {"channel": "news"})
        await client.send("pusher:ping")
        await client.expect("pusher:pong")  # the unsubscribe was handled before this
        await abroadcast("news", "story.published", {"title": "three"})
        assert not [f for f in await client.quiet(0.5) if f["event"] == "story.published"]
        await client.close()

    asyncio.run(scenario())


def test_broadcast_can_leave_out_the_socket_that_caused_it(server):
    async def scenario():
        actor = await PusherClient.connect(server.ws_url())
        watcher = await PusherClient.connect(server.ws_url())
        for client in (actor, watcher):
            await client.subscribe("board")
        await abroadcast("board", "card.moved", {"id": 1}, exclude_socket_id=actor.socket_id)
        assert (await watcher.expect("card.moved"))["data"]["id"] == 1
        assert not [f for f in await actor.quiet(0.5) if f["event"] == "card.moved"]
        await actor.close()
        await watcher.close()

    asyncio.run(scenario())


def test_private_channel_needs_a_valid_signature_else_4009(server):
    async def scenario():
        client = await PusherClient.connect(server.ws_url())
        # Signed, but for another socket.
        refused = await client.subscribe("private-room.1", auth=protocol.auth_token("1.1", "private-room.1"))
        assert refused["event"] == "pusher:error" and refused["data"]["code"] == 4009
        channel_error = await client.expect("pusher:subscription_error", "private-room.1")
        assert channel_error["data"]["type"] == "AuthError"
        missing = await client.subscribe("private-room.1")
        assert missing["data"]["code"] == 4009
        ok = await client.subscribe("private-room.1", **signed(client.socket_id, "private-room.1"))
        assert ok["event"] == "pusher_internal:subscription_succeeded"
        await abroadcast("private-room.1", "said", {"text": "hi"})
        assert (await client.expect("said", "private-room.1"))["data"]["text"] == "hi"
        await client.close()

    asyncio.run(scenario())
    server.process.wait_for_line(r"subscription of \S+ to 'private-room.1' refused: invalid signature")


def test_presence_members_join_and_leave(server):
    channel = f"presence-room.{uuid.uuid4().hex}"  # Redis keeps presence across test runs
    ann = {"user_id": "1", "user_info": {"name": "Ann"}}
    bob = {"user_id": "2", "user_info": {"name": "Bob"}}

    async def scenario():
        first = await PusherClient.connect(server.ws_url())
        joined = await first.subscribe(channel, **signed(first.socket_id, channel, ann))
        assert joined["data"]["presence"] == {"ids": ["1"], "hash": {"1": {"name": "Ann"}}, "count": 1}

        second = await PusherClient.connect(server.ws_url())
        joined = await second.subscribe(channel, **signed(second.socket_id, channel, bob))
        assert joined["data"]["presence"]["count"] == 2
        assert joined["data"]["presence"]["hash"] == {"1": {"name": "Ann"}, "2": {"name": "Bob"}}
        added = await first.expect("pusher_internal:member_added", channel)
        assert added["data"] == bob

        # Bob in a second tab: still one member, nobody is told twice.
        tab = await PusherClient.connect(server.ws_url())
        joined = await tab.subscribe(channel, **signed(tab.socket_id, channel, bob))
        assert joined["data"]["presence"]["count"] == 2
        await tab.close()
        assert not [f for f in await first.quiet(0.5) if f["event"].startswith("pusher_internal:member")]

        await second.send("pusher:unsubscribe", {"channel": channel})
        removed = await first.expect("pusher_internal:member_removed", channel)
        assert removed["data"] == {"user_id": "2"}

        third = await PusherClient.connect(server.ws_url())
        joined = await third.subscribe(channel, **signed(third.socket_id, channel, bob))
        assert sorted(joined["data"]["presence"]["ids"]) == ["1", "2"]
        await first.expect("pusher_internal:member_added", channel)
        await third.close()  # a dropped connection leaves too
        assert (await first.expect("pusher_internal:member_removed", channel))["data"] == {"user_id": "2"}
        for client in (first, second):
            await client.close()

    asyncio.run(scenario())


def test_presence_needs_channel_data_with_a_user_id(server):
    async def scenario():
        client = await PusherClient.connect(server.ws_url())
        fields = signed(client.socket_id, "presence-room.8", {"user_info": {}})
        assert (await client.subscribe("presence-room.8", **fields))["data"]["code"] == 4009
        await client.close()

    asyncio.run(scenario())


def test_client_events_are_refused_when_disabled(server):
    async def scenario():
        client = await PusherClient.connect(server.ws_url())
        await client.subscribe("private-room.2", **signed(client.socket_id, "private-room.2"))
        await client.send("client-typing", {"on": True}, channel="private-room.2")
        error = await client.expect("pusher:error")
        assert error["data"]["code"] == 4301
        await client.close()

    asyncio.run(scenario())


def test_malformed_frames_get_an_error_and_keep_the_connection(server):
    async def scenario():
        client = await PusherClient.connect(server.ws_url())
        await client.ws.send("not json")
        assert (await client.expect("pusher:error"))["data"]["message"] == "Invalid message format"
        await client.send("pusher:ping")
        await client.expect("pusher:pong")
        await client.close()

    asyncio.run(scenario())


def test_client_events_reach_the_other_members_when_enabled():
    channel = f"presence-room.{uuid.uuid4().hex}"

    async def scenario(srv):
        ann = await PusherClient.connect(srv.ws_url())
        bob = await PusherClient.connect(srv.ws_url())
        await ann.subscribe(channel, **signed(ann.socket_id, channel, {"user_id": "1", "user_info": {}}))
        await bob.subscribe(channel, **signed(bob.socket_id, channel, {"user_id": "2", "user_info": {}}))
        await ann.send("client-typing", {"on": True}, channel=channel)
        whisper = await bob.expect("client-typing", channel)
        assert whisper["data"] == {"on": True} and whisper["user_id"] == "1"
        assert not [f for f in await ann.quiet(0.5) if f["event"] == "client-typing"]
        await ann.send("client-typing", {"on": True}, channel="private-not-joined")
        assert (await ann.expect("pusher:error"))["data"]["code"] == 4009
        await ann.send("client-typing", {"on": True}, channel="news")
        assert (await ann.expect("pusher:error"))["data"]["code"] == 4009
        await ann.close()
        await bob.close()

    with asgi_server(REALTIME_CLIENT_EVENTS="true") as srv:
        asyncio.run(scenario(srv))


def test_silent_client_is_pinged_then_closed_with_4201():
    async def scenario(srv):
        polite = await PusherClient.connect(srv.ws_url())
        # The client that answers its pings (while reading) outlives several rounds of them.
        reading = asyncio.ensure_future(polite.quiet(4))
        silent = await PusherClient.connect(srv.ws_url(), answer_pings=False)
        assert silent.activity_timeout == 1
        assert (await silent.next(5))["event"] == "pusher:ping"
        error = await silent.next(5)
        assert error["event"] == "pusher:error" and error["data"]["code"] == 4201
        assert await silent.close_code() == 4201
        await reading
        await polite.send("pusher:ping")
        await polite.expect("pusher:pong")
        assert sum(f["event"] == "pusher:ping" for f in polite.frames) >= 2
        await polite.close()

    with asgi_server(REALTIME_ACTIVITY_TIMEOUT="1", REALTIME_PONG_TIMEOUT="1") as srv:
        asyncio.run(scenario(srv))
