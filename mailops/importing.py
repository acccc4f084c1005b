"""Importing Mailgun's own suppression lists (bounces, complaints, unsubscribes) into ours.

Page by page, one query and one insert per page; an interrupted import simply resumes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from itertools import islice

from django.utils import timezone

from mailops import mailgun
from mailops.models import Suppression, address_key

REASONS = {
    "bounces": Suppression.Reason.BOUNCED,
    "complaints": Suppression.Reason.COMPLAINED,
    "unsubscribes": Suppression.Reason.UNSUBSCRIBED,
}
BATCH = 500


@dataclass
class Imported:
    list: str
    seen: int = 0
    added: int = 0
    skipped: list[str] = field(default_factory=list)  # entries without a usable address


def _created_at(item: dict):
    try:
        value = parsedate_to_datetime(str(item.get("created_at")))
    except (TypeError, ValueError, IndexError):
        return timezone.now()
    # Mailgun writes "... UTC"; a "-0000" zone parses naive, and means UTC too.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _detail(kind: str, item: dict) -> str:
    if kind == "bounces":
        return f"Mailgun bounce {item.get('code', '')}: {item.get('error', '')}".strip()[:2000]
    if kind == "unsubscribes":
        return f"Mailgun unsubscribe, tags {item.get('tags', ['*'])}"[:2000]
    return "Mailgun complaint"


def import_list(
    kind: str, *, dry_run: bool = False, progress: Callable[[Imported], None] | None = None
) -> Imported:
    """Pull one Mailgun list; raises mailgun.MailgunError when the API fails (rows so far are kept)."""
    result = Imported(kind)
    entries = mailgun.suppression_list(kind)
    while batch := list(islice(entries, BATCH)):
        rows: dict[str, Suppression] = {}
        for item in batch:
            address = str(item.get("address") or "").strip()
            if "@" not in address:
                result.skipped.append(address)
                continue
            key = address_key(address)
            rows.setdefault(
                key,
                Suppression(
                    address=address,
                    address_key=key,
                    reason=REASONS[kind],
                    source=Suppression.Source.IMPORT,
                    detail=_detail(kind, item),
                    created_at=_created_at(item),
                ),
            )
        result.seen += len(batch)
        have = set(Suppression.objects.filter(address_key__in=rows).values_list("address_key", flat=True))
        new = [row for key, row in rows.items() if key not in have]
        if new and not dry_run:
            # ignore_conflicts: an address a webhook added meanwhile is not an error.
            Suppression.objects.bulk_create(new, ignore_conflicts=True)
        result.added += len(new)
        if progress:
            progress(result)
    return result
