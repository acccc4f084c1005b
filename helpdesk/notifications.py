"""Mail the helpdesk sends, through the mailops send API (one message per person).

- An assignment: the new assignee (not when they assigned the ticket to themselves).
- A public reply: the requester and the collaborators, never the reply's author.
- An SLA breach: the assignee and ADMINS.

helpdesk.services calls these inside the transaction of the change, so each message's row
commits with the change or not at all; mailops publishes it after the commit, and again later
when the broker was down then (mailops.sending). Mailgun is never called inside a request.
One message per recipient, so nobody sees who else was told.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model

from helpdesk.models import Reply, Ticket
from mailops.sending import InvalidRecipient, send_mail

log = logging.getLogger(__name__)


def _send(addresses, subject: str, body: str, kind: str) -> None:
    for address in dict.fromkeys(a.strip() for a in addresses if a and a.strip()):
        try:
            send_mail([address], subject, body, kind=kind, tags=[kind])
        except InvalidRecipient:
            log.warning("helpdesk %s: skipping an invalid address", kind)


def _emails(user_ids) -> list[str]:
    users = get_user_model().objects.filter(pk__in=[i for i in user_ids if i], is_active=True)
    return [user.email for user in users if user.email]


def ticket_assigned(ticket_id: int, assignee_id: int, actor_id: int | None) -> None:
    if assignee_id == actor_id:
        return
    ticket = Ticket.objects.get(pk=ticket_id)
    subject = f"[#{ticket.pk}] Assigned to you: {ticket.subject}"
    body = f'Ticket #{ticket.pk} "{ticket.subject}" is now assigned to you.\n\nPriority: {ticket.priority}\n'
    _send(_emails([assignee_id]), subject, body, "helpdesk.assigned")


def reply_created(reply: Reply) -> None:
    """Only for a public reply (an internal one mails nobody)."""
    ticket = reply.ticket
    people = {ticket.requester_id, *ticket.collaborators.values_list("pk", flat=True)} - {reply.author_id}
    body = f'New reply on ticket #{ticket.pk} "{ticket.subject}":\n\n{reply.body}\n'
    _send(_emails(people), f"[#{ticket.pk}] Re: {ticket.subject}", body, "helpdesk.reply")


def sla_breached(ticket_id: int, kind: str) -> None:
    ticket = Ticket.objects.select_related("assignee").get(pk=ticket_id)
    what = "first response" if kind == "first_response" else "resolution"
    body = (
        f'Ticket #{ticket.pk} "{ticket.subject}" ({ticket.priority}) missed its {what} due time.\n'
        f"Assignee: {ticket.assignee or 'nobody'}\n"
    )
    addresses = _emails([ticket.assignee_id]) + [address for _name, address in settings.ADMINS]
    _send(addresses, f"[#{ticket.pk}] SLA breached ({what}): {ticket.subject}", body, "helpdesk.sla_breached")
