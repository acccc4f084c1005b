"""Who is an agent and who may see which ticket; the API, admin and realtime all ask here.

Agents are active staff users or members of the `agents` group; they see every ticket. Anyone
else sees the tickets they requested or collaborate on, and never internal notes.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Q, QuerySet

from helpdesk.models import Ticket

AGENTS_GROUP = "agents"


def is_agent(user) -> bool:
    if not (user and user.is_authenticated and user.is_active):
        return False
    return user.is_staff or user.groups.filter(name=AGENTS_GROUP).exists()


def agents() -> QuerySet:
    """Every user `is_agent` accepts, as a queryset."""
    return get_user_model().objects.filter(
        Q(is_staff=True) | Q(pk__in=Group.objects.filter(name=AGENTS_GROUP).values("user")), is_active=True
    )


def visible_tickets(user, *, agent: bool | None = None) -> QuerySet[Ticket]:
    """The tickets `user` may see; pass `agent` when the caller already knows it."""
    if not (user and user.is_authenticated and user.is_active):
        return Ticket.objects.none()
    if is_agent(user) if agent is None else agent:
        return Ticket.objects.all()
    collaborating = Ticket.collaborators.through.objects.filter(user_id=user.pk).values("ticket_id")
    return Ticket.objects.filter(Q(requester_id=user.pk) | Q(pk__in=collaborating))


def can_view_ticket(user, ticket: Ticket) -> bool:
    if not (user and user.is_authenticated and user.is_active):
        return False
    if ticket.requester_id == user.pk or is_agent(user):
        return True
    return ticket.collaborators.filter(pk=user.pk).exists()
