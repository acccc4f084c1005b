"""`manage.py mail_send_test --to ADDRESS`: send a test message through the queue, wait for the outcome."""

from __future__ import annotations

import argparse
import json
import sys
import time

from django.core.management.base import CommandError
from django.utils import timezone

from audit.commands import AuditedCommand
from health.management.commands.health import MAX_SECONDS
from mailops.models import OutboundMessage
from mailops.sending import InvalidRecipient, send_mail
from mailops.suppression import suppressed_keys

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
DONE = {OutboundMessage.Status.SENT, OutboundMessage.Status.FAILED, OutboundMessage.Status.SUPPRESSED}


def seconds(text: str) -> float:
    """0 (do not wait) up to `health`'s MAX_SECONDS: infinity or NaN would wait forever or not at all."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"expected seconds from 0 to {MAX_SECONDS}, not {text!r}")
    return value


class Command(AuditedCommand):
    # It mails whatever address it is given through our domain: who did, to whom, is audited.
    audit_action = "mail.send_test"
    audit_target = "to"
    help = (
        "Send a test message to ADDRESS through the send API (a Celery worker sends it) and wait "
        "for Mailgun's answer. Exit 0 sent (or queued with --wait 0), 1 failed, suppressed or "
        "not sent in time, 2 bad usage."
    )

    def add_arguments(self, parser):
        parser.add_argument("--to", required=True, metavar="ADDRESS", help="the recipient")
        parser.add_argument("--subject", default="opsproject mail test", help="the subject line")
        wait = "seconds to wait for the worker's outcome (0: do not wait)"
        parser.add_argument("--wait", type=seconds, default=30.0, help=wait)
        parser.add_argument("--json", action="store_true", help="print the outcome as JSON")

    def handle(self, *args, **options):
        address = options["to"]
        body = f"A test message sent by `manage.py mail_send_test` at {timezone.now():%Y-%m-%d %H:%M:%S} UTC."
        try:
            message = send_mail([address], options["subject"], body, kind="mail_send_test")
        except InvalidRecipient as error:
            raise CommandError(str(error), returncode=EXIT_USAGE) from None
        if suppressed_keys([address]) and not options["json"]:
            self.stderr.write(f"note: {address} is on the suppression list; the worker will not send to it")
        deadline = time.monotonic() + options["wait"]
        while options["wait"] and message.status not in DONE and time.monotonic() < deadline:
            time.sleep(0.25)
            message.refresh_from_db()
        outcome = {"id": message.pk, "to": address, "status": message.status}
        outcome.update(message_id=message.message_id, error=message.error)
        line = f"mail #{message.pk} to {address}: {message.status}"
        line += f" ({message.message_id})" if message.message_id else ""
        line += f": {message.error.splitlines()[0]}" if message.error else ""
        if options["wait"] and message.status not in DONE:
            line += f"; no outcome within {options['wait']:g} s: is a worker running?"
        self.stdout.write(json.dumps(outcome) if options["json"] else line)
        ok = message.status == OutboundMessage.Status.SENT or (
            not options["wait"] and message.status == OutboundMessage.Status.QUEUED
        )
        sys.exit(EXIT_OK if ok else EXIT_FAIL)
