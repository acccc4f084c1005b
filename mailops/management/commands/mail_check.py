"""`manage.py mail_check`: the `mail` health check, run here, with every finding spelled out."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand

from health import redact
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
        found = results(fresh=not options["cached"])
        status = worst(result.status for result in found)
        if options["json"]:
            document = {
                "status": status,
                "checks": {
                    r.key: {**r.as_json(), "output": redact.redact(r.output)} if r.output else r.as_json()
                    for r in found
                },
            }
            self.stdout.write(json.dumps(document, indent=2))
        else:
            for result in found:
                value = ""
                if result.observed_value is not None:
                    value = f" = {result.observed_value} {result.observed_unit}".rstrip()
                self.stdout.write(
                    f"{result.status.upper():5} {result.key}{value}: {redact.redact(result.output)}"
                )
            self.stdout.write(f"mail: {status}")
        sys.exit(EXIT_FAIL if status == FAIL else EXIT_OK)
