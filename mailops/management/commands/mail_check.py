"""`manage.py mail_check`: the `mail` health check, run here, with every finding spelled out."""

from __future__ import annotations

import json
import sys
from dataclasses import replace

from django.core.management.base import BaseCommand

from health import redact
from health.client import describe
from health.results import FAIL, worst
from mailops.health_checks import results

EXIT_OK, EXIT_FAIL = 0, 1


class Command(BaseCommand):
    help = (
        "Check the mail setup: backend, DEFAULT_FROM_EMAIL on the sender domain, API and webhook "
        "keys, the domain's state at Mailgun (asked now) and the 24 h bounce rate. "
        "Exit 0 pass/warn, 1 fail."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the results as JSON")
        parser.add_argument(
            "--cached", action="store_true", help="use Mailgun's cached answer (MAIL_CREDENTIAL_TTL) if any"
        )

    def handle(self, *args, **options):
        found = [replace(r, output=redact.redact(r.output)) for r in results(fresh=not options["cached"])]
        # The `health` command's document and lines.
        document = {"status": worst(result.status for result in found), "checks": {}}
        for result in found:
            document["checks"].setdefault(result.key, []).append(result.as_json())
        text = json.dumps(document, indent=2) if options["json"] else "\n".join(describe(document))
        self.stdout.write(text)
        sys.exit(EXIT_FAIL if document["status"] == FAIL else EXIT_OK)
