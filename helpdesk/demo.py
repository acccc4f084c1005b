"""The helpdesk's part of the demo day: agents and requesters, tickets with replies and notes, a breach.

`manage.py demo` (operations.demo) finds it as it finds every app's `demo.py`, by the functions
below (LABEL, load, remove, loaded, holds_own_data): operations imports no helpdesk module.

Everything goes through the helpdesk's own services, so the SLA clock, the first-response stamp
and the broadcast events are the ones real traffic gives; only the creation times are moved
back into the past day afterwards, with plain updates.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from helpdesk import services
from helpdesk.models import Note, Reply, Ticket
from helpdesk.permissions import AGENTS_GROUP

# The demo people's mail domain; operations.demo.ops_day writes their mail (a frozen copy there).
DOMAIN = "demo.example.com"
LABEL = "tickets"

AGENTS = [("ada", "Ada", "Lovelace"), ("grace", "Grace", "Hopper")]
REQUESTERS = [
    ("mia", "Mia", "Novak"),
    ("tom", "Tom", "Berg"),
    ("lena", "Lena", "Ortiz"),
    ("omar", "Omar", "Haddad"),
]

# (requester, subject, priority, hours ago, status, thread); the thread's lines are
# (who: "agent" | "requester" | "note", body).
TICKETS = [
    (
        "mia",
        "Cannot reset my password",
        "high",
        20,
        "solved",
        [
            ("agent", "Sorry about that: I sent a new reset link, it is valid for an hour."),
            ("requester", "Got it, I am back in. Thanks!"),
            ("note", "Reset mail went to spam: the requester's domain has strict DMARC."),
        ],
    ),
    (
        "tom",
        "Invoice 2026-114 shows the wrong VAT number",
        "normal",
        14,
        "pending",
        [
            ("agent", "Thanks, billing is correcting it; you will get a new invoice by mail."),
            ("note", "Asked billing in #finance; they confirm a template bug since Monday."),
        ],
    ),
    (
        "lena",
        "Export to CSV times out",
        "urgent",
        9,
        "open",  # nobody answered: the first-response SLA of an urgent ticket is missed
        [("requester", "Still failing this morning, we need the export for an audit today.")],
    ),
    (
        "omar",
        "How do I add a colleague to my ticket?",
        "low",
        3,
        "open",
        [("agent", "Open the ticket and use 'Add collaborator'; they get every public reply.")],
    ),
    ("mia", "Two-factor codes arrive late", "normal", 1, "open", []),
]


def _user(username: str, first: str, last: str):
    user, _ = get_user_model().objects.get_or_create(
        username=f"demo-{username}",
        defaults={"first_name": first, "last_name": last, "email": f"{username}@{DOMAIN}"},
    )
    return user


def people() -> tuple[list, dict]:
    """The agents (members of the agents group) and the requesters, by short name."""
    group, _ = Group.objects.get_or_create(name=AGENTS_GROUP)
    agents = [_user(*person) for person in AGENTS]
    group.user_set.add(*agents)
    requesters = {person[0]: _user(*person) for person in REQUESTERS}
    return agents, requesters


def load(now) -> list[Ticket]:
    """The day's tickets with their threads; then the breach check the scheduler runs."""
    agents, requesters = people()
    made = []
    for index, (who, subject, priority, hours, status, thread) in enumerate(TICKETS):
        agent = agents[index % len(agents)]
        requester = requesters[who]
        opened = now - timedelta(hours=hours)
        ticket = Ticket.objects.create(
            subject=subject,
            description=f"{subject}.\n\nSent from the customer portal.",
            priority=priority,
            requester=requester,
            created_at=opened,
        )
        services.assign(ticket, agent, actor=agent)
        for step, (kind, body) in enumerate(thread, start=1):
            at = opened + timedelta(minutes=25 * step)
            if kind == "note":
                note = services.add_note(ticket, author=agent, body=body)
                Note.objects.filter(pk=note.pk).update(created_at=at)
                continue
            author = agent if kind == "agent" else requester
            reply = services.add_reply(ticket, author=author, body=body)
            Reply.objects.filter(pk=reply.pk).update(created_at=at)
            Ticket.objects.filter(pk=ticket.pk, first_responded_at=reply.created_at).update(
                first_responded_at=at
            )
        if status != Ticket.Status.OPEN:
            services.update_ticket(ticket, status=status)
        made.append(ticket)
    services.breach_overdue(now)
    return made


def remove() -> int:
    """Delete the demo's tickets (their threads go with them) and its people; returns the tickets."""
    users = get_user_model().objects.filter(username__startswith="demo-", email__endswith=f"@{DOMAIN}")
    tickets = Ticket.objects.filter(requester__in=users)
    removed = tickets.count()
    tickets.delete()
    Reply.objects.filter(author__in=users).delete()
    Note.objects.filter(author__in=users).delete()
    users.delete()
    return removed


def loaded() -> bool:
    return (
        get_user_model().objects.filter(username__startswith="demo-", email__endswith=f"@{DOMAIN}").exists()
    )


def holds_own_data() -> bool:
    """Whether the database holds tickets of its own: then the demo is never offered."""
    return Ticket.objects.exists()
