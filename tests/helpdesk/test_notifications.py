"""Helpdesk mail: who is told of an assignment, a public reply and an SLA breach (and who is not)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from helpdesk import services
from helpdesk.models import Ticket
from mailops import sending
from mailops.models import OutboundMessage
from tests.helpdesk.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch):
    """Messages handed to the broker, instead of handing them (the sending is tested in mailops)."""
    handed = []
    monkeypatch.setattr(sending, "enqueue", handed.append)
    return handed


def _mail(kind: str) -> list[tuple[str, ...]]:
    return sorted(tuple(m.to) for m in OutboundMessage.objects.filter(kind=kind))


def test_assignment_mails_the_assignee_only(
    requester, agent, staff_agent, enqueued, django_capture_on_commit_callbacks
):
    ticket = Ticket.objects.create(requester=requester, subject="VPN down")
    with django_capture_on_commit_callbacks(execute=True):
        services.assign(ticket, agent, actor=staff_agent)
        services.assign(ticket, staff_agent, actor=staff_agent)  # to oneself: no mail

    assert _mail("helpdesk.assigned") == [("alice@example.com",)]
    [message] = OutboundMessage.objects.filter(kind="helpdesk.assigned")
    assert f"[#{ticket.pk}]" in message.subject and enqueued == [message]


def test_a_public_reply_mails_requester_and_collaborators_but_not_the_author(
    requester, agent, enqueued, django_capture_on_commit_callbacks
):
    colleague = make_user("cora")
    ticket = Ticket.objects.create(requester=requester, subject="Printer jam")
    ticket.collaborators.add(colleague, agent)
    with django_capture_on_commit_callbacks(execute=True):
        services.add_reply(ticket, author=agent, body="Fixed it", public=True)
        services.add_reply(ticket, author=agent, body="internal musing", public=False)

    assert _mail("helpdesk.reply") == [("cora@example.com",), ("rita@example.com",)]
    assert all("Fixed it" in m.body for m in OutboundMessage.objects.filter(kind="helpdesk.reply"))


def test_an_sla_breach_mails_the_assignee_and_admins(
    requester, agent, settings, enqueued, django_capture_on_commit_callbacks
):
    settings.ADMINS = [("Ops", "ops@example.com")]
    ticket = Ticket.objects.create(requester=requester, subject="Server on fire", assignee=agent)
    Ticket.objects.filter(pk=ticket.pk).update(sla_first_response_due_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        services.breach_overdue()

    assert _mail("helpdesk.sla_breached") == [("alice@example.com",), ("ops@example.com",)]
