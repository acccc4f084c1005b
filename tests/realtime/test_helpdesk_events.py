"""Helpdesk API calls reach the right websockets, and only those, through a real server."""

import asyncio

import pytest
from django.contrib.auth.models import Group, User
from knox.models import AuthToken

from helpdesk.models import Ticket
from helpdesk.permissions import AGENTS_GROUP
from tests.realtime.support import PusherClient, http, token_headers

pytestmark = pytest.mark.django_db(transaction=True)


def person(username: str, agent: bool = False) -> tuple[User, str]:
    user = User.objects.create_user(username, f"{username}@example.com", first_name=username.title())
    if agent:
        user.groups.add(Group.objects.get_or_create(name=AGENTS_GROUP)[0])
    return user, AuthToken.objects.create(user=user)[1]


async def subscribed(server, token: str, channels: list[str]) -> PusherClient:
    """A client subscribed to `channels` with authorizations from the server's /broadcasting/auth."""
    client = await PusherClient.connect(server.ws_url())
    for channel in channels:
        status, body = await asyncio.to_thread(
            http,
            "POST",
            f"{server.base}/broadcasting/auth",
            {"socket_id": client.socket_id, "channel_name": channel},
            token_headers(token),
        )
        assert status == 200, (channel, status, body)
        result = await client.subscribe(channel, **body)
        assert result["event"] == "pusher_internal:subscription_succeeded", result
    return client


async def api(server, token: str, path: str, data: dict) -> dict:
    status, body = await asyncio.to_thread(
        http, "POST", f"{server.base}/api/tickets/{path}", data, token_headers(token), False
    )
    assert status in (200, 201), (path, status, body)
    return body


def events_of(frames: list[dict]) -> list[tuple[str, str]]:
    return [(f["channel"], f["event"]) for f in frames if f["event"].startswith("ticket.")]


def test_each_api_call_reaches_the_channels_it_belongs_to(server):
    requester, requester_token = person("rita")
    agent, agent_token = person("alice", agent=True)
    other_agent, _ = person("bert", agent=True)
    _, outsider_token = person("oscar")
    helper, _ = person("cora")
    ticket = Ticket.objects.create(subject="VPN down", requester=requester)
    t = ticket.pk
    ticket_channel, agents_channel = f"private-ticket.{t}", f"private-ticket.{t}.agents"

    async def scenario():
        watcher = await subscribed(server, requester_token, [ticket_channel])
        desk = await subscribed(server, agent_token, [agents_channel, f"private-user.{agent.pk}"])

        # An outsider cannot even get an authorization for the ticket's channels.
        outsider_client = await PusherClient.connect(server.ws_url())
        for channel in (ticket_channel, agents_channel):
            status, _ = await asyncio.to_thread(
                http,
                "POST",
                f"{server.base}/broadcasting/auth",
                {"socket_id": outsider_client.socket_id, "channel_name": channel},
                token_headers(outsider_token),
            )
            assert status == 403

        await api(server, agent_token, f"{t}/assign/", {"assignee": agent.pk})
        assigned = await watcher.expect("ticket.assigned", ticket_channel)
        assert assigned["data"] == {
            "ticket_id": t,
            "assignee_id": agent.pk,
            "previous_assignee_id": None,
            "actor_id": agent.pk,
            "event_id": assigned["event_id"],
        }
        assert isinstance(assigned["event_id"], int)
        await desk.expect("ticket.assigned", agents_channel)
        await desk.expect("ticket.assigned", f"private-user.{agent.pk}")

        # Reassigned to someone else: alice's own channel hears nothing of it.
        await api(server, agent_token, f"{t}/assign/", {"assignee": other_agent.pk})
        await watcher.expect("ticket.assigned", ticket_channel)
        await desk.expect("ticket.assigned", agents_channel)

        await api(server, agent_token, f"{t}/collaborators/", {"user": helper.pk})
        added = await watcher.expect("ticket.collaborator_added", ticket_channel)
        assert added["data"] == {
            "ticket_id": t,
            "user_id": helper.pk,
            "actor_id": agent.pk,
            "event_id": added["event_id"],
        }
        await desk.expect("ticket.collaborator_added", agents_channel)

        reply = await api(server, agent_token, f"{t}/replies/", {"body": "Try reconnecting"})
        created = await watcher.expect("ticket.reply_created", ticket_channel)
        assert created["data"]["reply_id"] == reply["id"] and created["data"]["public"] is True
        await desk.expect("ticket.reply_created", agents_channel)

        note = await api(server, agent_token, f"{t}/notes/", {"body": "Their VPN key expired"})
        noted = await desk.expect("ticket.note_created", agents_channel)
        assert noted["data"] == {
            "ticket_id": t,
            "note_id": note["id"],
            "author_id": agent.pk,
            "event_id": noted["event_id"],
        }

        await api(server, agent_token, f"{t}/replies/", {"body": "internal", "public": False})
        await desk.expect("ticket.reply_created", agents_channel)

        # What each side got, in full, once everything has had time to arrive.
        watcher_saw = events_of(watcher.frames + await watcher.quiet(0.7))
        desk_saw = events_of(desk.frames + await desk.quiet(0.3))
        assert watcher_saw == [
            (ticket_channel, "ticket.assigned"),
            (ticket_channel, "ticket.assigned"),
            (ticket_channel, "ticket.collaborator_added"),
            (ticket_channel, "ticket.reply_created"),
        ], "a requester never sees notes or internal replies"
        assert desk_saw.count((f"private-user.{agent.pk}", "ticket.assigned")) == 1
        assert (agents_channel, "ticket.note_created") in desk_saw
        assert desk_saw.count((agents_channel, "ticket.reply_created")) == 2
        for client in (watcher, desk, outsider_client):
            await client.close()

    asyncio.run(scenario())


def test_presence_shows_who_is_viewing_a_ticket(server):
    requester, requester_token = person("rita")
    agent, agent_token = person("alice", agent=True)
    ticket = Ticket.objects.create(subject="Invoice", requester=requester)
    channel = f"presence-ticket.{ticket.pk}"

    async def scenario():
        viewer = await subscribed(server, requester_token, [channel])
        members = viewer.frames[-1]["data"]["presence"]
        assert members["ids"] == [str(requester.pk)]
        assert members["hash"][str(requester.pk)] == {"name": "Rita", "agent": False}
        desk = await subscribed(server, agent_token, [channel])
        assert desk.frames[-1]["data"]["presence"]["count"] == 2
        joined = await viewer.expect("pusher_internal:member_added", channel)
        assert joined["data"] == {"user_id": str(agent.pk), "user_info": {"name": "Alice", "agent": True}}
        await desk.close()
        left = await viewer.expect("pusher_internal:member_removed", channel)
        assert left["data"] == {"user_id": str(agent.pk)}
        await viewer.close()

    asyncio.run(scenario())
