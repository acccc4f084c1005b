"""The tickets admin: pages render, and edits keep the SLA clock and the events right."""

from datetime import timedelta

import pytest
from django.utils import timezone

from helpdesk.models import Reply, Ticket
from tests.helpdesk.conftest import make_user


@pytest.fixture
def admin_client(client, db):
    admin = make_user("root", staff=True)
    admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    client.admin = admin
    return client


def _form(ticket, **changes):
    data = {
        "subject": ticket.subject,
        "description": ticket.description,
        "status": ticket.status,
        "priority": ticket.priority,
        "requester": ticket.requester_id,
        "assignee": ticket.assignee_id or "",
        "collaborators": ",".join(str(pk) for pk in ticket.collaborators.values_list("pk", flat=True)),
    }
    for prefix in ("replies", "notes"):
        count = getattr(ticket, prefix).count() if ticket.pk else 0
        data |= {f"{prefix}-TOTAL_FORMS": count, f"{prefix}-INITIAL_FORMS": count}
        data |= {
            f"{prefix}-{i}-id": pk
            for i, pk in enumerate(getattr(ticket, prefix).values_list("pk", flat=True))
        }
        data |= {f"{prefix}-{i}-ticket": ticket.pk for i in range(count)}
    return data | changes


@pytest.mark.django_db
def test_admin_pages_render(admin_client, requester, agent):
    ticket = Ticket.objects.create(requester=requester, subject="Printer", assignee=agent)
    Reply.objects.create(ticket=ticket, author=agent, body="hello")
    ticket.notes.create(author=agent, body="internal")
    assert admin_client.get("/admin/helpdesk/ticket/").status_code == 200
    assert (
        admin_client.get("/admin/helpdesk/ticket/?status__exact=open&assignee__isempty=1").status_code == 200
    )
    page = admin_client.get(f"/admin/helpdesk/ticket/{ticket.pk}/change/")
    assert page.status_code == 200
    assert b"internal" in page.content and b"hello" in page.content
    assert admin_client.get("/admin/helpdesk/ticket/add/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_admin_edits_recompute_sla_and_emit_events(
    admin_client, requester, other_requester, agent, event_log
):
    ticket = Ticket.objects.create(
        requester=requester, subject="Printer", created_at=timezone.now() - timedelta(hours=2)
    )
    response = admin_client.post(
        f"/admin/helpdesk/ticket/{ticket.pk}/change/",
        _form(ticket, priority="urgent", assignee=agent.pk, collaborators=str(other_requester.pk)),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    ticket.refresh_from_db()
    assert ticket.sla_first_response_due_at == ticket.created_at + timedelta(hours=1)
    assert ticket.assignee_id == agent.pk
    assert event_log.names == ["ticket_assigned", "collaborator_added"]
    assert not any(event.in_transaction for event in event_log.sent)
    actor = admin_client.admin.pk
    assert event_log.named("ticket_assigned") == [
        {"ticket_id": ticket.pk, "assignee_id": agent.pk, "previous_assignee_id": None, "actor_id": actor}
    ]
    assert event_log.named("collaborator_added") == [
        {"ticket_id": ticket.pk, "user_id": other_requester.pk, "actor_id": actor}
    ]


@pytest.mark.django_db
def test_admin_refuses_a_non_agent_assignee(admin_client, requester, other_requester):
    ticket = Ticket.objects.create(requester=requester, subject="Printer")
    response = admin_client.post(
        f"/admin/helpdesk/ticket/{ticket.pk}/change/", _form(ticket, assignee=other_requester.pk)
    )
    assert response.status_code == 200
    assert "assignee" in response.context["adminform"].form.errors
    ticket.refresh_from_db()
    assert ticket.assignee_id is None
