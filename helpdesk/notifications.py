"""Mail the helpdesk sends on its events, through the mailops send API (one message per person).

- TicketAssigned: the new assignee (not when they assigned the ticket to themselves).
- ReplyCreated (public): the requester and the collaborators, never the reply's author.
- SlaBreached: the assignee and ADMINS.

Receivers run after the commit (helpdesk.events) and only enqueue: Mailgun is never called
inside a request. One message per recipient, so nobody sees who else was told.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.dispatch import receiver

from helpdesk import events
from helpdesk.models import Reply, Ticket
from mailops.sending import InvalidRecipient, send_mail

log = logging.getLogger(__name__)


def _send(addresses, subject: str, body: str, kind: str) -> int:
    sent = 0
    for address in dict.fromkeys(a.strip() for a in addresses if a and a.strip()):
        try:
            send_mail([address], subject, body, kind=kind, tags=[kind])
        except InvalidRecipient:
            log.warning("helpdesk %s: skipping an invalid address", kind)
            continue
        sent += 1
    return sent


def _emails(user_ids) -> list[str]:
    users = get_user_model().objects.filter(pk__in=[i for i in user_ids if i], is_active=True)
    return [user.email for user in users if user.email]


@receiver(events.ticket_assigned, dispatch_uid="helpdesk.notifications.assigned")
def ticket_assigned(sender, ticket_id, assignee_id, previous_assignee_id=None, actor_id=None, **kwargs):
    if not assignee_id or assignee_id == actor_id:
        return
    ticket = Ticket.objects.filter(pk=ticket_id).first()
    if ticket is None:
        return
    body = f'Ticket #{ticket.pk} "{ticket.subject}" is now assigned to you.\n\nPriority: {ticket.priority}\n'
    _send(
        _emails([assignee_id]), f"[#{ticket.pk}] Assigned to you: {ticket.subject}", body, "helpdesk.assigned"
    )


@receiver(events.reply_created, dispatch_uid="helpdesk.notifications.reply")
def reply_created(sender, ticket_id, reply_id, author_id, public, **kwargs):
    if not public:
        return
    reply = Reply.objects.select_related("ticket").filter(pk=reply_id).first()
    if reply is None:
        return
    ticket = reply.ticket
    people = {ticket.requester_id, *ticket.collaborators.values_list("pk", flat=True)} - {author_id}
    body = f'New reply on ticket #{ticket.pk} "{ticket.subject}":\n\n{reply.body}\n'
    _send(_emails(people), f"[#{ticket.pk}] Re: {ticket.subject}", body, "helpdesk.reply")


@receiver(events.sla_breached, dispatch_uid="helpdesk.notifications.sla")
def sla_breached(sender, ticket_id, kind, **kwargs):
    ticket = Ticket.objects.filter(pk=ticket_id).first()
    if ticket is None:
        return
    what = "first response" if kind == "first_response" else "resolution"
    body = (
        f'Ticket #{ticket.pk} "{ticket.subject}" ({ticket.priority}) missed its {what} due time.\n'
        f"Assignee: {ticket.assignee or 'nobody'}\n"
    )
    addresses = _emails([ticket.assignee_id]) + [address for _name, address in settings.ADMINS]
    _send(addresses, f"[#{ticket.pk}] SLA breached ({what}): {ticket.subject}", body, "helpdesk.sla_breached")
