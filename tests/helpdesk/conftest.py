"""Users in each helpdesk role, API clients logged in as them, and a recorder of domain events."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from rest_framework.test import APIClient

from helpdesk import events
from helpdesk.permissions import AGENTS_GROUP

SIGNALS = {
    "ticket_assigned": events.ticket_assigned,
    "collaborator_added": events.collaborator_added,
    "reply_created": events.reply_created,
    "note_created": events.note_created,
    "sla_breached": events.sla_breached,
}


def make_user(username: str, *, agent: bool = False, staff: bool = False) -> User:
    # No password: hashing one costs most of a second; tests authenticate with force_authenticate.
    user = User.objects.create_user(username, f"{username}@example.com", is_staff=staff)
    if agent:
        user.groups.add(Group.objects.get_or_create(name=AGENTS_GROUP)[0])
    return user


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def requester(db):
    return make_user("rita")


@pytest.fixture
def other_requester(db):
    return make_user("oscar")


@pytest.fixture
def agent(db):
    return make_user("alice", agent=True)


@pytest.fixture
def staff_agent(db):
    return make_user("sam", staff=True)


@dataclass
class Sent:
    name: str
    sender: type
    kwargs: dict
    in_transaction: bool  # was a transaction still open when the signal went out?


@dataclass
class EventLog:
    sent: list[Sent] = field(default_factory=list)

    def named(self, name: str) -> list[dict]:
        return [event.kwargs for event in self.sent if event.name == name]

    @property
    def names(self) -> list[str]:
        return [event.name for event in self.sent]


@pytest.fixture
def event_log():
    log = EventLog()
    receivers = []
    for name, signal in SIGNALS.items():

        def receiver(sender, signal, _name=name, **kwargs):
            log.sent.append(Sent(_name, sender, kwargs, connection.in_atomic_block))

        signal.connect(receiver, weak=False)
        receivers.append((signal, receiver))
    yield log
    for signal, receiver in receivers:
        signal.disconnect(receiver)
