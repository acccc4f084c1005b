"""`manage.py mail_inbox status|drain`: the webhook events waiting in the inbox (mailops.inbox)."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from health.results import FAIL
from mailops import inbox

EXIT_USAGE = 2


class Command(BaseCommand):
    help = (
        "The mail inbox: Mailgun webhook events the web has accepted and the workers have not "
        "stored yet. `status` shows how many wait and for how long (exit 1 when the oldest is "
        "older than MAIL_INBOX_FAIL_AGE); `drain` stores them now, from this process (when no "
        "worker runs). Exit 2 on bad usage or when there is no inbox (MAIL_INBOX off or no Redis)."
    )

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        status = actions.add_parser("status", help="events waiting, the oldest's age, per-drainer pending")
        status.add_argument("--json", action="store_true", help="print one JSON object")
        actions.add_parser("drain", help="store every waiting event now, then exit")

    def handle(self, *args, **options):
        if not inbox.enabled():
            raise CommandError(
                "no mail inbox here (MAIL_INBOX is off or there is no REDIS_URL): "
                "the webhook stores events itself",
                returncode=EXIT_USAGE,
            )
        if options["action"] == "drain":
            stored = inbox.drain_all()
            self.stdout.write(f"{stored} inbox entr{'y' if stored == 1 else 'ies'} stored or handed on")
            return
        waiting = inbox.backlog()
        late = waiting.level == FAIL
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "waiting": waiting.waiting,
                        "oldest_age_seconds": waiting.oldest_age,
                        "pending_by_drainer": waiting.pending,
                        "late": late,
                    }
                )
            )
        else:
            line = f"{waiting.waiting} event(s) waiting"
            if waiting.oldest_age is not None:
                line += f", the oldest for {waiting.oldest_age:.1f} s"
            self.stdout.write(line)
            for consumer, count in sorted(waiting.pending.items()):
                self.stdout.write(f"  read, not yet stored, by {consumer}: {count}")
            if late:
                self.stdout.write(
                    f"older than MAIL_INBOX_FAIL_AGE ({settings.MAIL_INBOX_FAIL_AGE:g} s): "
                    "are the workers running? (docs/RUNBOOK.md, mail:inbox)"
                )
        if late:
            raise SystemExit(1)
