"""The helpdesk's operations: each runs in one transaction, writes its mail in it (helpdesk.notifications)
and emits its events after commit.

The API and the admin call these; they trust their arguments (the callers validate who may do
what and that an assignee is an agent) and keep the invariants: the SLA due times follow the
priority, the first public agent reply stamps `first_responded_at`, a breach is recorded once.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from helpdesk import events, notifications, sla
from helpdesk.models import Note, Reply, Ticket
from helpdesk.permissions import is_agent


@transaction.atomic
def update_ticket(ticket: Ticket, **changes) -> Ticket:
    """Change subject, description, status or priority; a new priority moves the due times."""
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    priority_changed = "priority" in changes and changes["priority"] != ticket.priority
    for field, value in changes.items():
        setattr(ticket, field, value)
    if priority_changed:
        ticket.apply_sla_policy()
    ticket.save()
    return ticket


@transaction.atomic
def assign(ticket: Ticket, assignee, *, actor) -> bool:
    """Make `assignee` (an agent) the ticket's assignee; False if they already were."""
    # The row lock makes `previous_assignee_id` right when two agents assign at once.
    previous_id = Ticket.objects.select_for_update().values_list("assignee_id", flat=True).get(pk=ticket.pk)
    if previous_id == assignee.pk:
        return False
    Ticket.objects.filter(pk=ticket.pk).update(assignee=assignee, updated_at=timezone.now())
    notify_assigned(ticket.pk, assignee.pk, previous_id, actor.pk)
    return True


def notify_assigned(
    ticket_id: int, assignee_id: int, previous_assignee_id: int | None, actor_id: int
) -> None:
    """Inside the transaction of the assignment (the admin's too): its mail commits with it."""
    notifications.ticket_assigned(ticket_id, assignee_id, actor_id)
    events.send_on_commit(
        events.ticket_assigned,
        Ticket,
        ticket_id=ticket_id,
        assignee_id=assignee_id,
        previous_assignee_id=previous_assignee_id,
        actor_id=actor_id,
    )


@transaction.atomic
def add_collaborator(ticket: Ticket, user, *, actor) -> bool:
    """Add `user` to the ticket's collaborators; False if they already were one."""
    _, created = Ticket.collaborators.through.objects.get_or_create(ticket_id=ticket.pk, user_id=user.pk)
    if created:
        notify_collaborator_added(ticket.pk, user.pk, actor.pk)
    return created


def notify_collaborator_added(ticket_id: int, user_id: int, actor_id: int) -> None:
    events.send_on_commit(
        events.collaborator_added, Ticket, ticket_id=ticket_id, user_id=user_id, actor_id=actor_id
    )


def remove_collaborator(ticket: Ticket, user_id: int) -> bool:
    deleted, _ = Ticket.collaborators.through.objects.filter(ticket_id=ticket.pk, user_id=user_id).delete()
    return bool(deleted)


@transaction.atomic
def add_reply(ticket: Ticket, *, author, body: str, public: bool = True) -> Reply:
    reply = Reply.objects.create(ticket_id=ticket.pk, author=author, body=body, public=public)
    # Only a public answer from an agent is a response; the requester writing again is not.
    if public and author.pk != ticket.requester_id and is_agent(author):
        Ticket.objects.filter(pk=ticket.pk, first_responded_at__isnull=True).update(
            first_responded_at=reply.created_at
        )
    if public:
        notifications.reply_created(reply)
    events.send_on_commit(
        events.reply_created,
        Reply,
        ticket_id=ticket.pk,
        reply_id=reply.pk,
        author_id=author.pk,
        public=public,
    )
    return reply


@transaction.atomic
def add_note(ticket: Ticket, *, author, body: str) -> Note:
    note = Note.objects.create(ticket_id=ticket.pk, author=author, body=body)
    events.send_on_commit(
        events.note_created, Note, ticket_id=ticket.pk, note_id=note.pk, author_id=author.pk
    )
    return note


# --- SLA breaches ---------------------------------------------------------------------------

_DUE_FIELD = {sla.FIRST_RESPONSE: "sla_first_response_due_at", sla.RESOLUTION: "sla_resolution_due_at"}


def _overdue(kind: str, now: datetime) -> Q:
    """Tickets whose `kind` SLA is missed as of `now` and not yet recorded as breached."""
    condition = Q(
        status__in=Ticket.ACTIVE_STATUSES, sla_breached_at__isnull=True, **{f"{_DUE_FIELD[kind]}__lte": now}
    )
    if kind == sla.FIRST_RESPONSE:
        condition &= Q(first_responded_at__isnull=True)
    return condition


def overdue_candidates(now: datetime) -> list[tuple[int, str]]:
    """(ticket id, kind) for each ticket past a due time: the kind whose due time came first."""
    rows = Ticket.objects.filter(_overdue(sla.FIRST_RESPONSE, now) | _overdue(sla.RESOLUTION, now))
    candidates = []
    for ticket_id, responded, first_due, resolution_due in rows.values_list(
        "pk", "first_responded_at", "sla_first_response_due_at", "sla_resolution_due_at"
    ).order_by("pk"):
        missed = []
        if responded is None and first_due is not None and first_due <= now:
            missed.append((first_due, sla.FIRST_RESPONSE))
        if resolution_due is not None and resolution_due <= now:
            missed.append((resolution_due, sla.RESOLUTION))
        candidates.append((ticket_id, min(missed)[1]))
    return candidates


def breach_overdue(now: datetime | None = None) -> dict[str, int]:
    """Record every missed SLA as a breach, exactly once per ticket, and emit `sla_breached`.

    Safe to run in several workers at once: each breach is claimed by a conditional UPDATE
    that re-checks the whole condition, and only the worker whose UPDATE changed the row
    emits the event. The breach time is the missed due time, not the time of this run.
    """
    now = now or timezone.now()
    candidates = overdue_candidates(now)
    breached = 0
    for ticket_id, kind in candidates:
        with transaction.atomic():  # the claim and its mail commit together
            claimed = Ticket.objects.filter(_overdue(kind, now), pk=ticket_id).update(
                sla_breached_at=F(_DUE_FIELD[kind]), sla_breach_kind=kind
            )
            if claimed:
                breached += 1
                notifications.sla_breached(ticket_id, kind)
                events.send_on_commit(events.sla_breached, Ticket, ticket_id=ticket_id, kind=kind)
    return {"candidates": len(candidates), "breached": breached}
