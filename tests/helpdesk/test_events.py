"""Domain events: sent once each, only after the commit, never for a rolled-back transaction."""

import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from helpdesk import events, services
from helpdesk.models import Reply, Ticket
from tests.helpdesk.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True)


class Boom(Exception):
    pass


@pytest.fixture
def ticket(requester):
    return Ticket.objects.create(requester=requester, subject="Broken laptop")


def _every_event(ticket, agent, collaborator):
    """One call of each operation that emits an event."""
    services.assign(ticket, agent, actor=agent)
    services.add_collaborator(ticket, collaborator, actor=agent)
    services.add_reply(ticket, author=agent, body="On it")
    services.add_note(ticket, author=agent, body="Warranty expired")
    Ticket.objects.filter(pk=ticket.pk).update(
        sla_first_response_due_at=timezone.now(), first_responded_at=None
    )
    services.breach_overdue()


EXPECTED = ["ticket_assigned", "collaborator_added", "reply_created", "note_created", "sla_breached"]


def test_each_event_waits_for_the_outer_commit_and_fires_once(ticket, agent, other_requester, event_log):
    with transaction.atomic():
        _every_event(ticket, agent, other_requester)
        assert event_log.sent == []
    assert event_log.names == EXPECTED
    assert not any(event.in_transaction for event in event_log.sent)
    assert event_log.named("collaborator_added") == [
        {"ticket_id": ticket.pk, "user_id": other_requester.pk, "actor_id": agent.pk}
    ]
    assert event_log.named("sla_breached") == [{"ticket_id": ticket.pk, "kind": "first_response"}]
    for event in event_log.sent:  # ids, never instances
        assert all(value is None or type(value) in (int, bool, str) for value in event.kwargs.values())


def test_nothing_is_sent_when_the_transaction_rolls_back(ticket, agent, other_requester, event_log):
    with pytest.raises(Boom), transaction.atomic():
        _every_event(ticket, agent, other_requester)
        raise Boom
    assert event_log.sent == []
    ticket.refresh_from_db()
    assert ticket.assignee_id is None and ticket.sla_breached_at is None
    assert not ticket.replies.exists() and not ticket.collaborators.exists()


def test_a_rolled_back_savepoint_drops_only_its_own_events(ticket, agent, event_log):
    with transaction.atomic():
        services.add_note(ticket, author=agent, body="kept")
        with pytest.raises(Boom), transaction.atomic():
            services.assign(ticket, agent, actor=agent)
            raise Boom
    assert event_log.names == ["note_created"]
    ticket.refresh_from_db()
    assert ticket.assignee_id is None


def test_receivers_read_the_committed_rows_from_another_connection(ticket, agent):
    seen = []

    def read_elsewhere(sender, reply_id, **kwargs):
        # A fresh thread has its own connection: it sees only what is committed.
        def read():
            try:
                seen.append(Reply.objects.filter(pk=reply_id).values_list("body", flat=True).first())
            finally:
                connection.close()

        thread = threading.Thread(target=read)
        thread.start()
        thread.join()

    events.reply_created.connect(read_elsewhere, weak=False)
    try:
        services.add_reply(ticket, author=agent, body="Committed before you heard of it")
    finally:
        events.reply_created.disconnect(read_elsewhere)
    assert seen == ["Committed before you heard of it"]


def test_a_failing_receiver_neither_undoes_the_change_nor_silences_the_others(
    ticket, agent, event_log, caplog
):
    def broken(sender, **kwargs):
        raise RuntimeError("mail server on fire")

    events.note_created.connect(broken, weak=False)
    try:
        note = services.add_note(ticket, author=agent, body="still saved")
    finally:
        events.note_created.disconnect(broken)
    assert ticket.notes.get().pk == note.pk
    assert event_log.names == ["note_created"]
    assert "mail server on fire" in caplog.text


def test_repeated_operations_do_not_repeat_events(ticket, agent, other_requester, event_log):
    assert services.assign(ticket, agent, actor=agent) is True
    assert services.assign(ticket, agent, actor=agent) is False
    assert services.add_collaborator(ticket, other_requester, actor=agent) is True
    assert services.add_collaborator(ticket, other_requester, actor=agent) is False
    second = make_user("bob", agent=True)
    services.assign(ticket, second, actor=agent)
    assert event_log.names == ["ticket_assigned", "collaborator_added", "ticket_assigned"]
    assert event_log.named("ticket_assigned")[1] == {
        "ticket_id": ticket.pk,
        "assignee_id": second.pk,
        "previous_assignee_id": agent.pk,
        "actor_id": agent.pk,
    }
