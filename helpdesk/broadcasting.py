"""The helpdesk's realtime channels: who may follow which, and the events broadcast on them.

    private-ticket.{id}          whoever may view the ticket: ticket.assigned,
                                 ticket.collaborator_added, ticket.reply_created (public replies)
    private-ticket.{id}.agents   agents only: everything on the ticket channel, plus
                                 ticket.note_created, internal replies and ticket.sla_breached
    private-user.{id}            that user only: ticket.assigned when the ticket is theirs now
    presence-ticket.{id}         whoever may view the ticket: who is looking at it

Receivers run after the transaction commits (helpdesk.events sends on commit) and carry ids, as
the signals do; clients read the rest through the API, which checks access again. A failed
broadcast is logged by the signal's send_robust and never undoes the change.
"""

from __future__ import annotations

from django.dispatch import receiver

from helpdesk import events
from helpdesk.models import Ticket
from helpdesk.permissions import can_view_ticket, is_agent
from realtime import broadcast, register_channel


def _ticket(params: dict) -> Ticket | None:
    ticket_id = params["ticket_id"]
    return Ticket.objects.filter(pk=int(ticket_id)).first() if ticket_id.isdigit() else None


def may_follow_ticket(user, channel: str, params: dict) -> bool:
    ticket = _ticket(params)
    return ticket is not None and can_view_ticket(user, ticket)


def may_follow_ticket_as_agent(user, channel: str, params: dict) -> bool:
    return is_agent(user) and _ticket(params) is not None


def may_follow_user(user, channel: str, params: dict) -> bool:
    return params["user_id"] == str(user.pk)


def may_view_ticket(user, channel: str, params: dict) -> bool | dict:
    if not may_follow_ticket(user, channel, params):
        return False
    name = user.get_full_name() or user.get_username()
    return {"user_id": user.pk, "user_info": {"name": name, "agent": is_agent(user)}}


register_channel("private-ticket.{ticket_id}", may_follow_ticket)
register_channel("private-ticket.{ticket_id}.agents", may_follow_ticket_as_agent)
register_channel("private-user.{user_id}", may_follow_user)
register_channel("presence-ticket.{ticket_id}", may_view_ticket)


def ticket_channel(ticket_id: int) -> str:
    return f"private-ticket.{ticket_id}"


def agents_channel(ticket_id: int) -> str:
    return f"private-ticket.{ticket_id}.agents"


def user_channel(user_id: int) -> str:
    return f"private-user.{user_id}"


def _to_ticket(ticket_id: int, event: str, data: dict) -> None:
    """To everyone following the ticket, agents' channel included."""
    broadcast(ticket_channel(ticket_id), event, data)
    broadcast(agents_channel(ticket_id), event, data)


# Each event's data is its signal's ids, as helpdesk.events lists them.


@receiver(events.ticket_assigned, dispatch_uid="realtime.ticket_assigned")
def on_ticket_assigned(sender, signal, **data):
    _to_ticket(data["ticket_id"], "ticket.assigned", data)
    if data["assignee_id"] is not None:
        broadcast(user_channel(data["assignee_id"]), "ticket.assigned", data)


@receiver(events.collaborator_added, dispatch_uid="realtime.collaborator_added")
def on_collaborator_added(sender, signal, **data):
    _to_ticket(data["ticket_id"], "ticket.collaborator_added", data)


@receiver(events.reply_created, dispatch_uid="realtime.reply_created")
def on_reply_created(sender, signal, **data):
    if data["public"]:
        _to_ticket(data["ticket_id"], "ticket.reply_created", data)
    else:
        broadcast(agents_channel(data["ticket_id"]), "ticket.reply_created", data)


@receiver(events.note_created, dispatch_uid="realtime.note_created")
def on_note_created(sender, signal, **data):
    broadcast(agents_channel(data["ticket_id"]), "ticket.note_created", data)


@receiver(events.sla_breached, dispatch_uid="realtime.sla_breached")
def on_sla_breached(sender, signal, **data):
    broadcast(agents_channel(data["ticket_id"]), "ticket.sla_breached", data)
