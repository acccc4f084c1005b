"""Collaborators and mail on a requester's behalf: a requester cannot probe user ids (403, no hint,
nothing added), an agent gets one answer for an unknown and an invisible user, and a requester's
replies (each mails the ticket's people through our domain) stop at the rate limit with a 429."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache

from helpdesk.models import Reply, Ticket
from mailops.models import OutboundMessage
from tests.helpdesk.conftest import make_user
from tests.security.sessions import Session, server

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def people(db):
    return {
        "requester": make_user("rita"),
        "agent": make_user("alice", agent=True),
        "root": User.objects.create_superuser("root", "root@example.com", None),
        "gone": User.objects.create_user("gone", "gone@example.com", is_active=False),
    }


@pytest.fixture
def base(tmp_path):
    cache.clear()  # the throttle's counters (this run's own Redis database)
    with server(tmp_path, HELPDESK_REQUESTER_MAIL_RATE="2/hour") as url:
        yield url
    cache.clear()


def _ticket(session: Session) -> int:
    status, ticket = session.call("post", "/api/tickets/", {"subject": "help", "description": "please"})
    assert status == 201, ticket
    return ticket["id"]


def test_a_requester_cannot_add_anyone_nor_learn_who_exists(base, people):
    rita = Session(base, people["requester"])
    ticket = _ticket(rita)
    answers = [
        rita.call("post", f"/api/tickets/{ticket}/collaborators/", {"user": user_id})
        for user_id in (people["root"].pk, people["agent"].pk, people["gone"].pk, 999999)
    ]
    assert answers == [(403, {"detail": "Only agents can do this."})] * 4
    assert not Ticket.objects.get(pk=ticket).collaborators.exists()
    status, detail = rita.call("get", f"/api/tickets/{ticket}/")
    assert status == 200 and detail["collaborators"] == []


def test_an_agent_gets_the_same_answer_for_an_unknown_and_an_invisible_user(base, people):
    ticket = _ticket(Session(base, people["requester"]))
    alice = Session(base, people["agent"])
    unknown = alice.call("post", f"/api/tickets/{ticket}/collaborators/", {"user": 999999})
    inactive = alice.call("post", f"/api/tickets/{ticket}/collaborators/", {"user": people["gone"].pk})
    assert unknown == inactive == (400, {"user": ["No such user."]})
    assert not Ticket.objects.get(pk=ticket).collaborators.exists()


def test_a_requesters_replies_that_mail_people_are_rate_limited(base, people):
    rita = Session(base, people["requester"])
    ticket = _ticket(rita)
    helper = make_user("hank")
    alice = Session(base, people["agent"])
    assert alice.call("post", f"/api/tickets/{ticket}/collaborators/", {"user": helper.pk})[0] == 201
    for n in range(2):
        status, answer = rita.call("post", f"/api/tickets/{ticket}/replies/", {"body": f"reply {n}"})
        assert status == 201, answer
    mailed = OutboundMessage.objects.count()
    assert mailed >= 2  # each reply mailed the collaborator

    status, answer = rita.call("post", f"/api/tickets/{ticket}/replies/", {"body": "one too many"})
    assert status == 429
    assert answer["detail"].startswith("Too many replies: a reply mails the ticket's people")
    assert "2/hour" in answer["detail"]
    assert Reply.objects.filter(ticket_id=ticket).count() == 2
    assert not Reply.objects.filter(body="one too many").exists()
    assert OutboundMessage.objects.count() == mailed

    # Agents are not limited by it.
    for n in range(3):
        assert alice.call("post", f"/api/tickets/{ticket}/replies/", {"body": f"agent {n}"})[0] == 201
