"""The issue's end-to-end story over the API on MariaDB, with the events it emits."""

import pytest

from helpdesk.models import Note, Reply, Ticket
from tests.helpdesk.conftest import client_for

NOTE = "Internal: customer is on the VIP list"
REPLY = "A technician is on the way"


@pytest.mark.django_db(transaction=True)
def test_requester_opens_agent_assigns_notes_and_replies(requester, other_requester, agent, event_log):
    rita, alice, oscar = client_for(requester), client_for(agent), client_for(other_requester)

    opened = rita.post("/api/tickets/", {"subject": "Printer on fire", "description": "Smoke everywhere"})
    assert opened.status_code == 201, opened.data
    ticket_id = opened.data["id"]
    url = f"/api/tickets/{ticket_id}/"
    assert opened.data["requester"]["id"] == requester.pk
    assert (opened.data["status"], opened.data["priority"]) == ("open", "normal")
    assert opened.data["assignee"] is None
    assert opened.data["replies"] == []
    assert "notes" not in opened.data

    assigned = alice.post(url + "assign/", {"assignee": agent.pk})
    assert assigned.status_code == 200, assigned.data
    assert assigned.data["assignee"]["id"] == agent.pk
    noted = alice.post(url + "notes/", {"body": NOTE})
    assert noted.status_code == 201, noted.data
    replied = alice.post(url + "replies/", {"body": REPLY})
    assert replied.status_code == 201, replied.data
    assert replied.data["public"] is True

    # The requester sees the reply and never the note, in the detail and in the list.
    detail = rita.get(url)
    assert detail.status_code == 200
    assert [reply["body"] for reply in detail.data["replies"]] == [REPLY]
    assert detail.data["replies"][0]["author"]["id"] == agent.pk
    assert "notes" not in detail.data
    assert NOTE.encode() not in detail.content
    assert detail.data["first_responded_at"] is not None
    listed = rita.get("/api/tickets/")
    assert listed.status_code == 200
    assert [ticket["id"] for ticket in listed.data["results"]] == [ticket_id]
    assert NOTE.encode() not in listed.content
    assert "notes" not in listed.data["results"][0]

    # The agent sees both.
    agent_view = alice.get(url).data
    assert [note["body"] for note in agent_view["notes"]] == [NOTE]
    assert [reply["body"] for reply in agent_view["replies"]] == [REPLY]

    # Another requester cannot tell the ticket exists.
    assert oscar.get(url).status_code == 404
    assert oscar.get("/api/tickets/").data["count"] == 0
    assert oscar.post(url + "replies/", {"body": "me too"}).status_code == 404
    assert oscar.patch(url, {"subject": "mine now"}).status_code == 404

    # Each action emitted its one event, after its transaction committed, with ids only.
    reply_id = Reply.objects.get().pk
    note_id = Note.objects.get().pk
    assert event_log.names == ["ticket_assigned", "note_created", "reply_created"]
    assert all(not event.in_transaction for event in event_log.sent)
    assert [event.sender for event in event_log.sent] == [Ticket, Note, Reply]
    assert event_log.named("ticket_assigned") == [
        {"ticket_id": ticket_id, "assignee_id": agent.pk, "previous_assignee_id": None, "actor_id": agent.pk}
    ]
    assert event_log.named("note_created") == [
        {"ticket_id": ticket_id, "note_id": note_id, "author_id": agent.pk}
    ]
    assert event_log.named("reply_created") == [
        {"ticket_id": ticket_id, "reply_id": reply_id, "author_id": agent.pk, "public": True}
    ]
