"""Mail history retention: MailEvents and OutboundMessages older than MAIL_RETENTION_DAYS go.

Run daily by `mailops.prune_history`; MAIL_RETENTION_DAYS=0 keeps everything. Suppressions are
never pruned: links to pruned rows are emptied (SET_NULL), so the counts are exact.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from mailops.models import MailEvent, OutboundMessage
from queueops.cleanup import delete_in_batches

log = logging.getLogger(__name__)

BATCH = 1000


def prune(now=None) -> dict[str, int]:
    """Delete the mail history past retention; how many events and messages went."""
    days = settings.MAIL_RETENTION_DAYS
    if days <= 0:
        return {"mail_events": 0, "outbound_messages": 0}
    cutoff = (now or timezone.now()) - timedelta(days=days)
    # Events first: the messages' delete then has fewer event links to empty.
    events = delete_in_batches(MailEvent.objects.filter(occurred_at__lt=cutoff), "occurred_at", BATCH)
    messages = delete_in_batches(OutboundMessage.objects.filter(created_at__lt=cutoff), "created_at", BATCH)
    removed = {"mail_events": events, "outbound_messages": messages}
    log.info("mail history older than %d days removed: %s", days, removed)
    return removed
