"""POST /broadcasting/auth and GET /broadcasting/history: every channel rule of the helpdesk."""

import json
import logging

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from knox.models import AuthToken
from rest_framework.test import APIClient

from helpdesk.models import Ticket
from helpdesk.permissions import AGENTS_GROUP
from realtime import broadcast, protocol, register_channel
from realtime.authorization import unregister_channel
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db

SOCKET = "1234.5678"


def make_user(username: str, *, agent: bool = False, **fields) -> User:
    user = User.objects.create_user(username, f"{username}@example.com", **fields)
    if agent:
        user.groups.add(Group.objects.get_or_create(name=AGENTS_GROUP)[0])
    return user


@pytest.fixture
def people():
    requester = make_user("rita", first_name="Rita", last_name="Ray")
    other = make_user("oscar")
    collaborator = make_user("cora")
    agent = make_user("alice", agent=True, first_name="Alice")
    staff = make_user("sam", is_staff=True)
    ticket = Ticket.objects.create(subject="Printer on fire", requester=requester)
    ticket.collaborators.add(collaborator)
    others_ticket = Ticket.objects.create(subject="Oscar's", requester=other)
    return {
        "requester": requester,
        "other": other,
        "collaborator": collaborator,
        "agent": agent,
        "staff": staff,
        "ticket": ticket,
        "others_ticket": others_ticket,
    }


def auth(user, channel: str, socket_id: str = SOCKET):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client.post("/broadcasting/auth", {"socket_id": socket_id, "channel_name": channel})


def allowed(user, channel: str) -> bool:
    response = auth(user, channel)
    assert response.status_code in (200, 403), (response.status_code, response.content)
    return response.status_code == 200


def test_ticket_channel_is_for_whoever_may_view_the_ticket(people):
    channel = f"private-ticket.{people['ticket'].pk}"
    for name in ("requester", "collaborator", "agent", "staff"):
        assert allowed(people[name], channel), name
    assert not allowed(people["other"], channel), "another requester's ticket"
    assert not allowed(people["requester"], f"private-ticket.{people['others_ticket'].pk}")
    assert not allowed(people["agent"], "private-ticket.999999"), "no such ticket"


def test_agents_channel_is_for_agents_only(people):
    channel = f"private-ticket.{people['ticket'].pk}.agents"
    assert allowed(people["agent"], channel)
    assert allowed(people["staff"], channel)
    for name in ("requester", "collaborator", "other"):
        assert not allowed(people[name], channel), name


def test_user_channel_is_for_that_user_only(people):
    agent = people["agent"]
    assert allowed(agent, f"private-user.{agent.pk}")
    assert not allowed(agent, f"private-user.{people['requester'].pk}")
    assert not allowed(people["staff"], f"private-user.{agent.pk}")


def test_private_auth_is_the_key_and_the_hmac_of_socket_and_channel(people):
    channel = f"private-ticket.{people['ticket'].pk}"
    body = auth(people["requester"], channel).json()
    assert set(body) == {"auth"}
    key, signature = body["auth"].split(":")
    assert key == protocol.auth_token(SOCKET, channel).split(":")[0]
    assert signature == protocol.signature(SOCKET, channel)
    assert protocol.verify_auth(body["auth"], SOCKET, channel)
    assert not protocol.verify_auth(body["auth"], "1.2", channel)


def test_presence_auth_carries_the_user_id_and_name(people):
    channel = f"presence-ticket.{people['ticket'].pk}"
    body = auth(people["requester"], channel).json()
    data = json.loads(body["channel_data"])
    assert data == {"user_id": str(people["requester"].pk), "user_info": {"name": "Rita Ray", "agent": False}}
    assert protocol.verify_auth(body["auth"], SOCKET, channel, body["channel_data"])
    agent_data = json.loads(auth(people["agent"], channel).json()["channel_data"])
    assert agent_data["user_info"] == {"name": "Alice", "agent": True}
    assert not allowed(people["other"], channel)


def test_refusals_say_why_and_are_logged(people, caplog):
    caplog.set_level(logging.WARNING, "realtime.authorization")
    response = auth(people["requester"], f"private-ticket.{people['ticket'].pk}.agents")
    assert response.status_code == 403
    assert "refused by rule 'private-ticket.{ticket_id}.agents'" in response.json()["detail"]
    assert f"user {people['requester'].pk}" in caplog.text and "refused by rule" in caplog.text

    response = auth(people["agent"], "private-unknown.1")
    assert (response.status_code, response.json()["detail"]) == (403, "no rule matches this channel")

    anonymous = auth(None, f"private-ticket.{people['ticket'].pk}")
    assert anonymous.status_code == 401
    assert "anonymous" in caplog.text


def test_bad_input_is_a_400(people):
    ticket_channel = f"private-ticket.{people['ticket'].pk}"
    assert auth(people["agent"], ticket_channel, socket_id="nope").status_code == 400
    assert auth(people["agent"], "private-bad channel!").status_code == 400
    assert auth(people["agent"], "news").status_code == 400  # public: nothing to authorize
    client = APIClient()
    client.force_authenticate(people["agent"])
    assert client.post("/broadcasting/auth", {}).status_code == 400


def test_token_authentication(people):
    token = AuthToken.objects.create(user=people["agent"])[1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    channel = f"private-ticket.{people['ticket'].pk}.agents"
    assert (
        client.post("/broadcasting/auth", {"socket_id": SOCKET, "channel_name": channel}).status_code == 200
    )
    client.credentials(HTTP_AUTHORIZATION="Token wrong")
    assert (
        client.post("/broadcasting/auth", {"socket_id": SOCKET, "channel_name": channel}).status_code == 401
    )


def test_session_authentication_needs_the_csrf_token(people):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["requester"])
    data = {"socket_id": SOCKET, "channel_name": f"private-ticket.{people['ticket'].pk}"}
    assert client.post("/broadcasting/auth", data).status_code == 403
    client.get("/admin/login/")  # any page that sets the CSRF cookie
    csrf = client.cookies["csrftoken"].value
    response = client.post("/broadcasting/auth", data, HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 200, response.content


def test_history_is_authorized_like_subscribing(people):
    channel = f"private-ticket.{people['ticket'].pk}.agents"
    first = broadcast(channel, "ticket.note_created", {"n": 1})
    second = broadcast(channel, "ticket.note_created", {"n": 2})
    agent = APIClient()
    agent.force_authenticate(people["agent"])
    body = agent.get("/broadcasting/history", {"channel": channel, "after": first}).json()
    assert body["events"] == [
        {
            "event_id": second,
            "event": "ticket.note_created",
            "channel": channel,
            "data": {"n": 2, "event_id": second},
        }
    ]
    everything = agent.get("/broadcasting/history", {"channel": channel}).json()["events"]
    assert [e["event_id"] for e in everything][-2:] == [first, second]
    requester = APIClient()
    requester.force_authenticate(people["requester"])
    assert requester.get("/broadcasting/history", {"channel": channel, "after": 0}).status_code == 403
    assert APIClient().get("/broadcasting/history", {"channel": channel}).status_code == 401
    assert agent.get("/broadcasting/history", {"channel": channel, "after": "x"}).status_code == 400


def test_public_history_is_open(people, settings):
    channel = f"status-page.{people['ticket'].pk}"
    event_id = broadcast(channel, "incident.opened", {"id": 3})
    body = APIClient().get("/broadcasting/history", {"channel": channel, "after": event_id - 1}).json()
    assert [event["event_id"] for event in body["events"]] == [event_id]


def test_history_keeps_events_for_the_configured_seconds(people, settings):
    channel = f"status-page.{people['ticket'].pk}.retention"
    settings.REALTIME_HISTORY_SECONDS = 1
    old = broadcast(channel, "incident.opened", {"id": 1})

    def kept() -> list[int]:
        body = APIClient().get("/broadcasting/history", {"channel": channel, "after": 0}).json()
        return [event["event_id"] for event in body["events"]]

    assert kept() == [old]
    wait_until(lambda: not kept(), 30, "the event older than REALTIME_HISTORY_SECONDS gone", 0.1)
    new = broadcast(channel, "incident.opened", {"id": 2})
    assert kept() == [new]
    assert old < new


def test_apps_register_their_own_rules(people):
    calls = []

    @register_channel("presence-room.{room}")
    def rooms(user, channel, params):
        calls.append((user.pk, channel, params))
        return {"user_id": f"u{user.pk}", "user_info": {"seat": params["room"]}}

    try:
        body = auth(people["other"], "presence-room.blue").json()
        assert json.loads(body["channel_data"]) == {
            "user_id": f"u{people['other'].pk}",
            "user_info": {"seat": "blue"},
        }
        assert calls == [(people["other"].pk, "presence-room.blue", {"room": "blue"})]
        assert not allowed(people["other"], "presence-room.blue.extra"), "placeholders match one segment"
    finally:
        unregister_channel("presence-room.{room}")
    with pytest.raises(ValueError):
        register_channel("news.{id}", rooms)
