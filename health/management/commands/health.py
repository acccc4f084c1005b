"""`manage.py health`: probe the checks here, or a running server with --url.

Exit 0 for pass and warn, 1 for fail, 2 when the server cannot be reached or the usage is
wrong. Made for container healthchecks: no system checks at start-up, and the answer comes
within the checks' deadline however the dependencies behave.
"""

from __future__ import annotations

import argparse
import json
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from health import client, runner
from health.registry import checks_of, configured_checks
from health.results import FAIL, worst

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


# A day: more than any probe or gate needs; past threading.TIMEOUT_MAX (and infinity) a wait
# raises OverflowError instead of waiting.
MAX_SECONDS = 24 * 3600


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds above 0, at most {MAX_SECONDS}, not {text!r}"
        )
    return value


class Command(BaseCommand):
    help = (
        "Run the health checks (or the named components' checks) and print what they found. "
        "Exit 0 pass/warn, 1 fail, 2 unreachable or bad usage."
    )
    requires_system_checks: list = []  # seconds a container healthcheck should not pay

    def add_arguments(self, parser):
        parser.add_argument("components", nargs="*", metavar="component", help="only these components")
        parser.add_argument("--json", action="store_true", help="print the application/health+json document")
        parser.add_argument(
            "--timeout",
            type=positive_seconds,
            help="seconds each check may take (with --url: the whole request), at most 86400; "
            "default HEALTH_TIMEOUT",
        )
        parser.add_argument(
            "--url",
            help="probe this server (its root or health URL) instead of running the checks here; "
            "sends HEALTH_TOKEN when set, for the details",
        )

    def handle(self, *args, **options):
        components = options["components"]
        if options["url"]:
            status, document = self._over_http(options["url"], components, options["timeout"])
        else:
            status, document = self._in_process(components, options["timeout"])
        if options["json"]:
            self.stdout.write(json.dumps(document, indent=2))
        else:
            self.stdout.write("\n".join(client.describe(document)))
        sys.exit(EXIT_FAIL if status == FAIL else EXIT_OK)

    def _in_process(self, components, timeout):
        known = {check.component for check in configured_checks()}
        unknown = [name for name in components if name not in known]
        if unknown:
            raise CommandError(
                f"unknown component {', '.join(unknown)}; known: {', '.join(sorted(known))}",
                returncode=EXIT_USAGE,
            )
        checks = [check for name in dict.fromkeys(components) for check in checks_of(name)] or None
        report = runner.run(checks, timeout=timeout)
        return report.status, report.as_json(details=True)

    def _over_http(self, url, components, timeout):
        timeout = timeout or float(settings.HEALTH_TIMEOUT) + 2
        try:
            urls = [client.health_url(url, name) for name in components] or [client.health_url(url)]
        except client.BadURL as error:
            raise CommandError(str(error), returncode=EXIT_USAGE) from None
        documents = []
        for endpoint in urls:
            try:
                http_status, document = client.fetch(endpoint, token=settings.HEALTH_TOKEN, timeout=timeout)
            except client.Unreachable as error:
                raise CommandError(f"unreachable: {error}", returncode=EXIT_USAGE) from None
            if http_status == 404:
                raise CommandError(f"{endpoint}: unknown component", returncode=EXIT_USAGE)
            documents.append(document)
        if len(documents) == 1:
            return documents[0]["status"], documents[0]
        merged = {"status": worst(doc["status"] for doc in documents), "checks": {}}
        for document in documents:
            merged["checks"].update(document.get("checks", {}))
        return merged["status"], merged
