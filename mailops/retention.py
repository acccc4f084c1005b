"""Mail history retention: MailEvents and OutboundMessages older than MAIL_RETENTION_DAYS go.

Run daily by the `mailops.prune_history` job. MailEvents go by their event time (the indexed
`occurred_at`), OutboundMessages by `created_at`; MAIL_RETENTION_DAYS=0 keeps everything. The
suppression list is never pruned: a suppression whose event goes keeps its reason and detail,
only its link to the event is emptied (as is a kept event's link to a pruned message). Rows go
in batches of BATCH, oldest first, each in a short transaction of its own, so the webhook's
INSERTs never wait long behind a delete, and a run stopped halfway has deleted whole batches.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from mailops.models import MailEvent, OutboundMessage

log = logging.getLogger(__name__)

BATCH = 1000


def _delete_in_batches(rows: QuerySet, by: str) -> int:
    # Batches in the order of `by`, the indexed time the rows are chosen by: ordered by primary
    # key, MariaDB may walk the whole primary key to find a batch of old rows (bench/growth.py).
    deleted = 0
    while True:
        pks = list(rows.order_by(by, "pk").values_list("pk", flat=True)[:BATCH])
        if not pks:
            return deleted
        with transaction.atomic():
            _, per_model = rows.model.objects.filter(pk__in=pks).delete()
        deleted += per_model.get(rows.model._meta.label, 0)


def prune(now=None) -> dict[str, int]:
    """Delete the mail history past retention; how many events and messages went."""
    days = settings.MAIL_RETENTION_DAYS
    removed = {"mail_events": 0, "outbound_messages": 0}
    if days <= 0:
        return removed
    cutoff = (now or timezone.now()) - timedelta(days=days)
    # Events first: the messages' delete then has fewer event links to empty.
    removed["mail_events"] = _delete_in_batches(
        MailEvent.objects.filter(occurred_at__lt=cutoff), "occurred_at"
    )
    removed["outbound_messages"] = _delete_in_batches(
        OutboundMessage.objects.filter(created_at__lt=cutoff), "created_at"
    )
    log.info("mail history older than %d days removed: %s", days, removed)
    return removed
