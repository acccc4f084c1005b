"""The helpdesk's own client, Laravel Echo over pusher-js from npm, against a real server in Node."""

import asyncio
import json
import shutil

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from knox.models import AuthToken

from helpdesk.models import Ticket
from helpdesk.permissions import AGENTS_GROUP
from tests.realtime.support import KEY, PusherClient, asgi_server, http, token_headers
from tests.support.processes import REPO, running

JS = REPO / "tests" / "realtime" / "js"


def node_client(server, token: str, subscriptions: list[dict]):
    node = shutil.which("node")
    assert node, "node is not installed (scripts/test-system-deps.sh installs it)"
    assert (JS / "node_modules" / "pusher-js").is_dir(), (
        "run `make test` (it runs npm ci in tests/realtime/js)"
    )
    config = {
        "host": "127.0.0.1",
        "port": server.port,
        "key": KEY,
        "authEndpoint": f"{server.base}/broadcasting/auth",
        "token": token,
        "subscriptions": subscriptions,
    }
    return running([node, "client.mjs"], env={"RT_CONFIG": json.dumps(config)}, cwd=JS)


def record(process, pattern: str, start: int = 0) -> dict:
    line = process.wait_for_line(pattern, timeout=20, start=start)
    return json.loads(line.string)


def person(username: str, agent: bool = False) -> tuple[User, str]:
    user = User.objects.create_user(username, f"{username}@example.com", first_name=username.title())
    if agent:
        user.groups.add(Group.objects.get_or_create(name=AGENTS_GROUP)[0])
    return user, AuthToken.objects.create(user=user)[1]


def echo_follows_a_ticket_and_hears_its_assignment(server):
    requester, requester_token = person("rita")
    agent, agent_token = person("alice", agent=True)
    ticket = Ticket.objects.create(subject="Echo", requester=requester)
    subscriptions = [
        {"kind": "private", "name": f"ticket.{ticket.pk}", "events": [".ticket.assigned"]},
        {"kind": "presence", "name": f"ticket.{ticket.pk}"},
        {"kind": "private", "name": f"ticket.{ticket.pk}.agents", "events": [".ticket.note_created"]},
    ]
    with node_client(server, requester_token, subscriptions) as echo:
        record(echo, rf'"type":"subscribed","channel":"ticket\.{ticket.pk}"')
        here = record(echo, r'"type":"here"')
        assert here["members"] == [{"name": "Rita", "agent": False}]
        # A requester is refused the agents' channel: Echo's .error() hears about it.
        refused = record(echo, rf'"type":"subscription_error","channel":"ticket\.{ticket.pk}\.agents"')
        assert refused["error"]["status"] == 403

        status, _ = http(
            "POST",
            f"{server.base}/api/tickets/{ticket.pk}/assign/",
            {"assignee": agent.pk},
            token_headers(agent_token),
            form=False,
        )
        assert status == 200
        heard = record(echo, r'"type":"event"')
        assert heard["event"] == ".ticket.assigned"
        assert heard["data"]["ticket_id"] == ticket.pk and heard["data"]["assignee_id"] == agent.pk
        # What a client keeps to ask /broadcasting/history for what it missed.
        assert isinstance(heard["data"]["event_id"], int)

        # Someone else opens the ticket, then leaves: Echo's joining/leaving callbacks.
        async def agent_looks_in():
            client = await PusherClient.connect(server.ws_url())
            channel = f"presence-ticket.{ticket.pk}"
            status, body = await asyncio.to_thread(
                http,
                "POST",
                f"{server.base}/broadcasting/auth",
                {"socket_id": client.socket_id, "channel_name": channel},
                token_headers(agent_token),
            )
            assert status == 200
            await client.subscribe(channel, **body)
            await asyncio.to_thread(record, echo, r'"type":"joining"')
            await client.close()

        asyncio.run(agent_looks_in())
        assert record(echo, r'"type":"leaving"')["member"] == {"name": "Alice", "agent": True}


@pytest.mark.django_db(transaction=True)
def test_laravel_echo_over_pusher_js_on_redis(server):
    assert connection.vendor != "sqlite"
    echo_follows_a_ticket_and_hears_its_assignment(server)


@pytest.mark.embedded
@pytest.mark.django_db(transaction=True)
def test_laravel_echo_over_pusher_js_embedded():
    """The `make run` profile: one process, SQLite, the in-memory layer; the API call and the
    websocket meet inside the server."""
    with asgi_server() as server:
        echo_follows_a_ticket_and_hears_its_assignment(server)
