"""The helpdesk's domain events: Django signals sent after the transaction commits.

Each signal carries ids only (keyword arguments), never model instances, so a receiver reads
the committed state itself and a queued job can take the ids as they are. `sender` is the model
class the event is about (Ticket, Reply or Note).

    ticket_assigned      ticket_id, assignee_id, previous_assignee_id (or None), actor_id
    collaborator_added   ticket_id, user_id, actor_id
    reply_created        ticket_id, reply_id, author_id, public
    note_created         ticket_id, note_id, author_id
    sla_breached         ticket_id, kind ("first_response" or "resolution")

Realtime connects receivers to these; nothing is sent for a rolled-back transaction. Mail is
not a receiver: it is written inside the transaction (helpdesk.notifications), so none is lost.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

ticket_assigned = Signal()
collaborator_added = Signal()
reply_created = Signal()
note_created = Signal()
sla_breached = Signal()


def send_on_commit(signal: Signal, sender: type, **ids: object) -> None:
    """Send `signal` once the current transaction commits (at once outside a transaction).

    Receivers run after the data is committed, so one that fails cannot undo the change nor
    stop the others: its exception is logged, as `send_robust` collects it.
    """

    def send() -> None:
        for receiver, result in signal.send_robust(sender=sender, **ids):
            if isinstance(result, Exception):
                logger.error(
                    "helpdesk event receiver %r failed for %s",
                    receiver,
                    ids,
                    exc_info=(type(result), result, result.__traceback__),
                )

    transaction.on_commit(send)
