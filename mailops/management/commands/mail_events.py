"""`manage.py mail_events [--since] [--type]`: what Mailgun reported, newest first."""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from mailops.models import MailEvent

_AGO = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
JSON_FIELDS = ("message_id", "outbound_id", "reject_reason", "description")


def since(text: str) -> datetime:
    """`90m`, `24h`, `7d` ago, or an ISO time (UTC unless it says otherwise)."""
    text = text.strip()
    if match := _AGO.match(text):
        return timezone.now() - timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 24h, 7d, 90m or an ISO time, not {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def event_types(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in MailEvent.Type.values]
    if unknown or not names:
        known = ", ".join(MailEvent.Type.values)
        raise argparse.ArgumentTypeError(f"unknown event type {', '.join(unknown) or text!r}; known: {known}")
    return names


class Command(BaseCommand):
    help = "List stored mail events (webhook and suppressed), newest first. Exit 0, or 2 on bad usage."

    def add_arguments(self, parser):
        parser.add_argument(
            "--since", type=since, default="24h", help="24h (default), 7d, 90m or an ISO time"
        )
        parser.add_argument(
            "--type", type=event_types, help="comma-separated event types (bounced,complained)"
        )
        parser.add_argument("--recipient", help="only this address (any case)")
        parser.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
        parser.add_argument("--json", action="store_true", help="print JSON lines")

    def handle(self, *args, **options):
        chosen = options["since"]
        start = since(chosen) if isinstance(chosen, str) else chosen
        rows = MailEvent.objects.filter(occurred_at__gte=start)
        if options["type"]:
            rows = rows.filter(event_type__in=options["type"])
        if options["recipient"]:
            rows = rows.filter(recipient_key=options["recipient"].strip().lower())
        rows = rows[: max(1, options["limit"])]
        for row in rows:
            if options["json"]:
                record = {"event_id": row.event_id, "type": row.event_type, "recipient": row.recipient}
                record["occurred_at"] = row.occurred_at.isoformat()
                record |= {name: getattr(row, name) for name in JSON_FIELDS}
                self.stdout.write(json.dumps(record))
            else:
                when = row.occurred_at.strftime("%Y-%m-%d %H:%M:%S")
                about = f" #{row.outbound_id}" if row.outbound_id else ""
                text = (row.description or row.mta_response or "").replace("\n", " ")[:80]
                self.stdout.write(f"{when} {row.event_type:12} {row.recipient:35}{about} {text}".rstrip())
