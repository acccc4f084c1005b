"""The tickets API's rules: authentication, 403/404/400, editing, collaborators, lists."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from knox.models import AuthToken

from helpdesk.models import Ticket
from tests.helpdesk.conftest import client_for, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(requester):
    return Ticket.objects.create(requester=requester, subject="VPN down", description="since 9:00")


def url(ticket, suffix=""):
    return f"/api/tickets/{ticket.pk}/{suffix}"


# --- authentication -------------------------------------------------------------------------


def test_anonymous_gets_401_with_a_token_challenge(ticket):
    anonymous = client_for(None)
    for response in (
        anonymous.get("/api/tickets/"),
        anonymous.get(url(ticket)),
        anonymous.post("/api/tickets/", {"subject": "x"}),
        anonymous.post(url(ticket, "replies/"), {"body": "x"}),
    ):
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"
    assert Ticket.objects.count() == 1


def test_token_authentication(requester, ticket):
    token = AuthToken.objects.create(user=requester)[1]
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get("/api/tickets/")
    assert response.status_code == 200
    assert [t["id"] for t in response.data["results"]] == [ticket.pk]

    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
    assert client.get("/api/tickets/").status_code == 401

    requester.is_active = False
    requester.save()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/tickets/").status_code == 401


def test_session_authentication_with_csrf(requester, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    requester.set_password("pw")
    requester.save()
    client = client_for(None)
    client.handler.enforce_csrf_checks = True
    client.force_login(requester)  # client.login() passes no request, which django-axes needs
    assert client.get("/api/tickets/").status_code == 200
    # A session-authenticated write without the CSRF token is refused.
    refused = client.post("/api/tickets/", {"subject": "x"}, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.data["detail"]


# --- visibility and agent-only actions ------------------------------------------------------


def test_agents_by_group_or_staff_see_every_ticket(ticket, agent, staff_agent):
    for user in (agent, staff_agent):
        client = client_for(user)
        assert client.get(url(ticket)).status_code == 200
        assert client.get("/api/tickets/").data["count"] == 1


def test_non_agents_get_403_on_agent_actions(ticket, requester, agent):
    rita = client_for(requester)
    for path, body in (
        ("assign/", {"assignee": agent.pk}),
        ("notes/", {"body": "psst"}),
    ):
        response = rita.post(url(ticket, path), body)
        assert response.status_code == 403, (path, response.data)
    assert rita.patch(url(ticket), {"status": "closed"}).status_code == 403
    assert rita.patch(url(ticket), {"priority": "urgent"}).status_code == 403
    assert rita.post("/api/tickets/", {"subject": "x", "priority": "urgent"}).status_code == 403
    assert rita.post(url(ticket, "replies/"), {"body": "x", "public": False}).status_code == 403
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.assignee_id) == ("open", "normal", None)
    assert not ticket.notes.exists() and not ticket.replies.exists()


def test_invisible_beats_forbidden(ticket, other_requester, agent):
    oscar = client_for(other_requester)
    assert oscar.post(url(ticket, "assign/"), {"assignee": agent.pk}).status_code == 404
    assert oscar.post(url(ticket, "notes/"), {"body": "x"}).status_code == 404
    assert oscar.post(url(ticket, "collaborators/"), {"user": other_requester.pk}).status_code == 404
    assert client_for(agent).get("/api/tickets/999999/").status_code == 404
    assert client_for(agent).get("/api/tickets/abc/").status_code == 404


# --- bad input ------------------------------------------------------------------------------


def test_create_refuses_bad_input_with_field_errors(requester, agent):
    rita, alice = client_for(requester), client_for(agent)
    missing = rita.post("/api/tickets/", {"description": "no subject"})
    assert missing.status_code == 400
    assert set(missing.data) == {"subject"}
    too_long = rita.post("/api/tickets/", {"subject": "x" * 201})
    assert too_long.status_code == 400 and "subject" in too_long.data
    # Keys the API does not take are refused beside the other field errors, not ignored.
    extra = rita.post("/api/tickets/", {"subject": "", "requester": agent.pk, "status": "closed"})
    assert extra.status_code == 400
    assert set(extra.data) == {"subject", "requester", "status"}
    bad_priority = alice.post("/api/tickets/", {"subject": "x", "priority": "asap"})
    assert bad_priority.status_code == 400 and set(bad_priority.data) == {"priority"}
    not_an_object = rita.post("/api/tickets/", ["subject"])
    assert not_an_object.status_code == 400
    not_json = rita.post("/api/tickets/", "subject=x", content_type="application/x-www-form-urlencoded")
    assert not_json.status_code == 415
    assert Ticket.objects.count() == 0


def test_assign_refuses_unknown_inactive_and_non_agent_users(ticket, requester, agent):
    alice = client_for(agent)
    retired = make_user("retired", agent=True)
    retired.is_active = False
    retired.save()
    for body, message in (
        ({"assignee": 999999}, "No such user"),
        ({"assignee": retired.pk}, "No such user"),
        ({"assignee": requester.pk}, "not an agent"),
        ({"assignee": "abc"}, "Expected a user id"),
        ({"assignee": True}, "Expected a user id"),
        ({"assignee": None}, "null"),
        ({}, "required"),
    ):
        response = alice.post(url(ticket, "assign/"), body)
        assert response.status_code == 400, body
        assert set(response.data) == {"assignee"}, body
        assert message in str(response.data["assignee"][0]), (body, response.data)
    ticket.refresh_from_db()
    assert ticket.assignee_id is None


def test_reply_and_note_bodies_are_required(ticket, agent):
    alice = client_for(agent)
    for path in ("replies/", "notes/"):
        for body in ({}, {"body": ""}, {"body": "   "}, {"body": "x" * 20_001}):
            response = alice.post(url(ticket, path), body)
            assert response.status_code == 400, (path, body)
            assert set(response.data) == {"body"}
    assert not ticket.replies.exists() and not ticket.notes.exists()


# --- editing --------------------------------------------------------------------------------


def test_patch_rules(ticket, requester, other_requester, agent):
    rita, alice = client_for(requester), client_for(agent)
    edited = rita.patch(url(ticket), {"subject": "VPN down for everyone"})
    assert edited.status_code == 200
    assert edited.data["subject"] == "VPN down for everyone"

    triaged = alice.patch(url(ticket), {"status": "pending", "priority": "high"})
    assert triaged.status_code == 200
    assert (triaged.data["status"], triaged.data["priority"]) == ("pending", "high")

    assert alice.patch(url(ticket), {}).status_code == 400
    assigning = alice.patch(url(ticket), {"assignee": agent.pk})
    assert assigning.status_code == 400 and set(assigning.data) == {"assignee"}
    assert alice.patch(url(ticket), {"status": "done"}).data.keys() == {"status"}
    assert alice.put(url(ticket), {"subject": "x"}).status_code == 405
    assert alice.delete(url(ticket)).status_code == 405

    # A collaborator sees the ticket but does not own it.
    ticket.collaborators.add(other_requester)
    assert client_for(other_requester).patch(url(ticket), {"subject": "hijack"}).status_code == 403
    ticket.refresh_from_db()
    assert ticket.subject == "VPN down for everyone"


def test_assigning_the_same_agent_again_is_a_no_op(ticket, agent):
    alice = client_for(agent)
    assert alice.post(url(ticket, "assign/"), {"assignee": agent.pk}).status_code == 200
    again = alice.post(url(ticket, "assign/"), {"assignee": agent.pk})
    assert again.status_code == 200
    assert again.data["assignee"]["id"] == agent.pk


# --- collaborators --------------------------------------------------------------------------


def test_collaborators_see_public_replies_only_and_can_leave(ticket, requester, other_requester, agent):
    rita, oscar, alice = client_for(requester), client_for(other_requester), client_for(agent)
    alice.post(url(ticket, "replies/"), {"body": "private draft", "public": False})
    alice.post(url(ticket, "replies/"), {"body": "public answer"})
    alice.post(url(ticket, "notes/"), {"body": "a note"})

    added = alice.post(url(ticket, "collaborators/"), {"user": other_requester.pk})
    assert added.status_code == 201, added.data
    assert [user["id"] for user in added.data["collaborators"]] == [other_requester.pk]
    assert alice.post(url(ticket, "collaborators/"), {"user": other_requester.pk}).status_code == 200

    seen = oscar.get(url(ticket))
    assert seen.status_code == 200
    assert [reply["body"] for reply in seen.data["replies"]] == ["public answer"]
    assert "notes" not in seen.data
    assert oscar.get("/api/tickets/").data["count"] == 1
    assert oscar.post(url(ticket, "replies/"), {"body": "same here"}).status_code == 201
    # Only agents invite: not a collaborator, not even the requester.
    third = make_user("tess")
    assert oscar.post(url(ticket, "collaborators/"), {"user": third.pk}).status_code == 403
    assert rita.post(url(ticket, "collaborators/"), {"user": third.pk}).status_code == 403

    assert oscar.delete(url(ticket, f"collaborators/{other_requester.pk}/")).status_code == 204
    assert oscar.get(url(ticket)).status_code == 404
    assert rita.delete(url(ticket, f"collaborators/{other_requester.pk}/")).status_code == 404


def test_collaborator_input_errors(ticket, requester, agent):
    alice = client_for(agent)
    for body, message in (
        ({"user": 999999}, "No such user"),
        ({"user": requester.pk}, "requester"),
        ({"user": "x"}, "Expected a user id"),
        ({}, "required"),
    ):
        response = alice.post(url(ticket, "collaborators/"), body)
        assert response.status_code == 400, body
        assert set(response.data) == {"user"}
        assert message in str(response.data["user"][0])
    assert not ticket.collaborators.exists()


def test_only_agents_requester_or_the_collaborator_remove_one(ticket, other_requester, agent):
    third = make_user("tess")
    ticket.collaborators.add(other_requester, third)
    assert client_for(third).delete(url(ticket, f"collaborators/{other_requester.pk}/")).status_code == 403
    assert client_for(agent).delete(url(ticket, f"collaborators/{other_requester.pk}/")).status_code == 204
    assert list(ticket.collaborators.all()) == [third]


# --- lists: pagination and filters ----------------------------------------------------------


def test_pagination(requester, settings):
    Ticket.objects.bulk_create(
        Ticket(requester=requester, subject=f"t{i}", created_at=timezone.now() - timedelta(minutes=i))
        for i in range(30)
    )
    rita = client_for(requester)
    first = rita.get("/api/tickets/")
    assert first.data["count"] == 30
    assert len(first.data["results"]) == settings.REST_FRAMEWORK["PAGE_SIZE"] == 25
    assert first.data["results"][0]["subject"] == "t0"  # newest first
    assert first.data["previous"] is None and "page=2" in first.data["next"]
    second = rita.get("/api/tickets/", {"page": 2})
    assert [t["subject"] for t in second.data["results"]] == [f"t{i}" for i in range(25, 30)]
    assert second.data["next"] is None
    assert rita.get("/api/tickets/", {"page": 3}).status_code == 404


def test_filters(requester, other_requester, agent, staff_agent):
    now = timezone.now()
    mine = Ticket.objects.create(requester=requester, subject="mine", assignee=agent)
    pending = Ticket.objects.create(requester=requester, subject="pending", status="pending")
    breached = Ticket.objects.create(
        requester=other_requester, subject="late", assignee=staff_agent, sla_breached_at=now
    )
    alice = client_for(agent)

    def ids(**params):
        response = alice.get("/api/tickets/", params)
        assert response.status_code == 200, response.data
        return {t["id"] for t in response.data["results"]}

    assert ids() == {mine.pk, pending.pk, breached.pk}
    assert ids(status="pending") == {pending.pk}
    assert ids(status="open") == {mine.pk, breached.pk}
    assert ids(assignee=agent.pk) == {mine.pk}
    assert ids(assignee="none") == {pending.pk}
    assert ids(breached="true") == {breached.pk}
    assert ids(breached="false") == {mine.pk, pending.pk}
    assert ids(status="open", breached="false", assignee=agent.pk) == {mine.pk}
    assert ids(priority="urgent") == set()
    # Filters narrow what a requester sees; they never widen it.
    assert {
        t["id"] for t in client_for(requester).get("/api/tickets/", {"breached": "true"}).data["results"]
    } == set()

    for params, field in (
        ({"status": "nope"}, "status"),
        ({"assignee": "me"}, "assignee"),
        ({"breached": "maybe"}, "breached"),
        ({"stauts": "open"}, "stauts"),
    ):
        response = alice.get("/api/tickets/", params)
        assert response.status_code == 400, params
        assert set(response.data) == {field}


def test_list_does_not_query_per_ticket(requester, agent, django_assert_max_num_queries):
    for i in range(10):
        ticket = Ticket.objects.create(requester=requester, subject=f"t{i}", assignee=agent)
        ticket.collaborators.add(agent)
    alice = client_for(agent)
    with django_assert_max_num_queries(6):
        assert alice.get("/api/tickets/").data["count"] == 10


def test_user_payloads_do_not_expose_emails(ticket, agent):
    body = client_for(agent).get(url(ticket)).content.decode()
    assert ticket.requester.email not in body
    assert User.objects.filter(email__contains="@").exists()
