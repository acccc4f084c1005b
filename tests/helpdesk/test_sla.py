"""The SLA clock: due times, first response, and check_sla's breach-exactly-once guarantee."""

import threading
from datetime import timedelta

import pytest
from celery import group
from django.db import connection
from django.utils import timezone

from helpdesk import services
from helpdesk.models import Ticket
from helpdesk.tasks import check_sla
from opsproject.celery import app
from tests.helpdesk.conftest import client_for
from tests.support.celery_worker import celery_worker

HOUR = timedelta(hours=1)


def _ticket(requester, age=timedelta(0), **fields):
    return Ticket.objects.create(requester=requester, subject="s", created_at=timezone.now() - age, **fields)


# --- due times ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_default_policy_sets_due_times_on_create(requester):
    expected = {"urgent": (1, 4), "high": (4, 24), "normal": (8, 72), "low": (24, 168)}
    for priority, (first, resolution) in expected.items():
        ticket = _ticket(requester, priority=priority)
        assert ticket.sla_first_response_due_at == ticket.created_at + first * HOUR, priority
        assert ticket.sla_resolution_due_at == ticket.created_at + resolution * HOUR, priority


@pytest.mark.django_db
def test_policy_comes_from_settings(requester, agent, settings):
    settings.HELPDESK_SLA = {
        "first_response": {"urgent": 60, "high": 120, "normal": 180, "low": 240},
        "resolution": {"urgent": 600, "high": 1200, "normal": 1800, "low": 2400},
    }
    created = client_for(agent).post("/api/tickets/", {"subject": "x", "priority": "high"})
    ticket = Ticket.objects.get(pk=created.data["id"])
    assert ticket.sla_first_response_due_at - ticket.created_at == timedelta(seconds=120)
    assert ticket.sla_resolution_due_at - ticket.created_at == timedelta(seconds=1200)


@pytest.mark.django_db
def test_priority_change_recomputes_due_times_from_creation(requester, agent):
    ticket = _ticket(requester, age=2 * HOUR)
    response = client_for(agent).patch(f"/api/tickets/{ticket.pk}/", {"priority": "urgent"})
    assert response.status_code == 200
    ticket.refresh_from_db()
    assert ticket.sla_first_response_due_at == ticket.created_at + HOUR
    assert ticket.sla_resolution_due_at == ticket.created_at + 4 * HOUR
    # Other edits leave the clock alone.
    client_for(agent).patch(f"/api/tickets/{ticket.pk}/", {"subject": "renamed", "priority": "urgent"})
    ticket.refresh_from_db()
    assert ticket.sla_first_response_due_at == ticket.created_at + HOUR


@pytest.mark.django_db
def test_only_the_first_public_agent_reply_is_the_first_response(requester, agent, staff_agent):
    ticket = _ticket(requester)
    url = f"/api/tickets/{ticket.pk}/replies/"
    client_for(requester).post(url, {"body": "any news?"})
    client_for(agent).post(url, {"body": "internal draft", "public": False})
    ticket.refresh_from_db()
    assert ticket.first_responded_at is None

    client_for(agent).post(url, {"body": "Looking into it"})
    ticket.refresh_from_db()
    first = ticket.first_responded_at
    assert first == ticket.replies.get(body="Looking into it").created_at

    client_for(staff_agent).post(url, {"body": "Fixed"})
    ticket.refresh_from_db()
    assert ticket.first_responded_at == first


@pytest.mark.django_db
def test_an_agent_replying_on_their_own_ticket_is_not_a_first_response(agent):
    ticket = _ticket(agent)
    client_for(agent).post(f"/api/tickets/{ticket.pk}/replies/", {"body": "adding details"})
    ticket.refresh_from_db()
    assert ticket.first_responded_at is None


# --- check_sla ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_check_sla_breaches_what_is_overdue_once(requester, event_log):
    no_reply = _ticket(requester, age=9 * HOUR)  # normal: first response due after 8 h
    answered_late = _ticket(requester, age=73 * HOUR, first_responded_at=timezone.now())
    both_missed = _ticket(requester, age=80 * HOUR)  # the first response was missed first
    solved = _ticket(requester, age=100 * HOUR, status="solved")
    closed = _ticket(requester, age=100 * HOUR, status="closed")
    in_time = _ticket(requester, age=7 * HOUR)
    pending = _ticket(requester, age=5 * HOUR, priority="urgent", status="pending")

    assert check_sla() == {"candidates": 4, "breached": 4}
    breaches = {t.pk: (t.sla_breach_kind, t.sla_breached_at) for t in Ticket.objects.all()}
    for ticket, kind in (
        (no_reply, "first_response"),
        (answered_late, "resolution"),
        (both_missed, "first_response"),
        (pending, "first_response"),
    ):
        due = ticket.sla_first_response_due_at if kind == "first_response" else ticket.sla_resolution_due_at
        assert breaches[ticket.pk] == (kind, due)  # breached when the due time passed
    for ticket in (solved, closed, in_time):
        assert breaches[ticket.pk] == ("", None)
    assert sorted(event_log.named("sla_breached"), key=lambda e: e["ticket_id"]) == [
        {"ticket_id": no_reply.pk, "kind": "first_response"},
        {"ticket_id": answered_late.pk, "kind": "resolution"},
        {"ticket_id": both_missed.pk, "kind": "first_response"},
        {"ticket_id": pending.pk, "kind": "first_response"},
    ]

    # Once breached, a ticket stays breached and is never reported again.
    assert check_sla() == {"candidates": 0, "breached": 0}
    assert len(event_log.named("sla_breached")) == 4


@pytest.mark.django_db
def test_breached_filter_after_check_sla(requester, agent):
    late = _ticket(requester, age=9 * HOUR)
    _ticket(requester)
    services.breach_overdue()
    response = client_for(agent).get("/api/tickets/", {"breached": "true"})
    assert [t["id"] for t in response.data["results"]] == [late.pk]
    assert response.data["results"][0]["sla_breach_kind"] == "first_response"


def _run_in_threads(target, count):
    """Run `target` in `count` threads started together; each thread closes its connection."""
    results, errors = [None] * count, []
    start = threading.Barrier(count)

    def run(index):
        try:
            start.wait()
            results[index] = target()
        except Exception as exc:  # reported below, with the thread's traceback
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_that_saw_the_same_tickets_breach_each_once(requester, event_log, monkeypatch):
    overdue = [_ticket(requester, age=9 * HOUR) for _ in range(40)]
    # Both runs read the same candidates before either updates: the worst interleaving.
    both_selected = threading.Barrier(2)
    select = services.overdue_candidates

    def select_then_wait(now):
        candidates = select(now)
        both_selected.wait(timeout=30)
        return candidates

    monkeypatch.setattr(services, "overdue_candidates", select_then_wait)
    results = _run_in_threads(check_sla, 2)

    assert [r["candidates"] for r in results] == [40, 40]
    assert sum(r["breached"] for r in results) == 40
    breached_ids = sorted(e["ticket_id"] for e in event_log.named("sla_breached"))
    assert breached_ids == sorted(t.pk for t in overdue)
    assert Ticket.objects.filter(sla_breached_at__isnull=True).count() == 0


@pytest.mark.django_db(transaction=True)
def test_many_concurrent_runs_breach_each_ticket_once(requester, event_log):
    overdue = {_ticket(requester, age=80 * HOUR).pk for _ in range(60)}
    results = _run_in_threads(check_sla, 4)
    assert sum(r["breached"] for r in results) == 60
    breached_ids = [e["ticket_id"] for e in event_log.named("sla_breached")]
    assert sorted(breached_ids) == sorted(overdue)


@pytest.mark.django_db(transaction=True)
def test_check_sla_runs_in_real_worker_processes(requester):
    overdue = {_ticket(requester, age=9 * HOUR).pk for _ in range(30)}
    assert "helpdesk.check_sla" in app.tasks
    with celery_worker():
        # Two deliveries at once, taken by the worker's two prefork processes.
        results = group(check_sla.s(), check_sla.s()).apply_async().get(timeout=60)
    assert sum(r["breached"] for r in results) == 30
    assert set(Ticket.objects.filter(sla_breached_at__isnull=False).values_list("pk", flat=True)) == overdue
