"""`manage.py health_gate`: wait after a deploy until a server is healthy, or give up.

Probes `--url` every `--interval` seconds. Exit 0 once `--consecutive` probes in a row pass
(HTTP 200: pass or warn), 1 when `--timeout` passes first (naming what failed last), 2 on bad
usage. An answer that is no health+json document (malformed checks, over 1 MiB, not JSON,
not HTTP) is a failing probe, named on one line. With a token (`--token`, default
HEALTH_TOKEN) each probe asks for fresh results.

A probe passes only when every entry of `--require` (default HEALTH_GATE_REQUIRE, which
docs/PRODUCTION_ENV.md describes) passes too, not merely warns.
"""

from __future__ import annotations

import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from health import client
from health.management.commands.health import EXIT_FAIL, EXIT_OK, EXIT_USAGE, positive_seconds


class Command(BaseCommand):
    help = (
        "Probe a server until N consecutive probes pass (exit 0) or the timeout passes (exit 1, "
        "printing the failing components); exit 2 on bad usage. An answer that is not a health "
        "document (malformed, over 1 MiB) is a failing probe."
    )
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, help="the server's root or health URL")
        parser.add_argument(
            "--token",
            default=None,
            help="bearer token for details and fresh results (default: HEALTH_TOKEN; prefer the "
            "environment, argv is visible to other users)",
        )
        parser.add_argument("--timeout", type=positive_seconds, default=300.0, help="seconds to keep trying")
        parser.add_argument("--interval", type=positive_seconds, default=5.0, help="seconds between probes")
        parser.add_argument("--consecutive", type=int, default=3, help="passing probes in a row")
        parser.add_argument(
            "--require",
            default=None,
            help="comma-separated components or component:measurement checks that must pass, not "
            "merely warn (default: HEALTH_GATE_REQUIRE; '' requires none, for a component's URL)",
        )

    def handle(self, **options):
        try:
            url = client.health_url(options["url"])
        except client.BadURL as error:
            raise CommandError(str(error), returncode=EXIT_USAGE) from None
        token = settings.HEALTH_TOKEN if options["token"] is None else options["token"]
        require = ",".join(settings.HEALTH_GATE_REQUIRE) if options["require"] is None else options["require"]
        self.required = [name.strip() for name in require.split(",") if name.strip()]
        needed, interval = options["consecutive"], options["interval"]
        if needed < 1:
            raise CommandError(f"--consecutive is a whole number from 1, not {needed}", returncode=EXIT_USAGE)
        deadline = time.monotonic() + options["timeout"]
        streak = probes = 0
        last = "no probe finished"
        while True:
            probes += 1
            remaining = deadline - time.monotonic()
            passed, last = self._probe(url, token, timeout=max(0.5, min(10.0, remaining)))
            last = client.one_line(last)  # what the server sent may hold newlines, or be long
            streak = streak + 1 if passed else 0
            self.stdout.write(f"probe {probes}: {last} ({streak}/{needed})")
            if streak >= needed:
                self.stdout.write(f"healthy: {needed} consecutive passing probes")
                sys.exit(EXIT_OK)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            time.sleep(min(interval, remaining))
        self.stderr.write(f"gave up after {options['timeout']:g} s; last probe: {last}")
        sys.exit(EXIT_FAIL)

    def _probe(self, url: str, token: str, timeout: float) -> tuple[bool, str]:
        try:
            http_status, document = client.fetch(url, token=token, timeout=timeout, fresh=bool(token))
        except client.Unreachable as error:
            return False, f"unreachable: {error}"
        status = document["status"]
        unmet = unmet_requirements(document, self.required)
        if http_status == 200 and status != "fail" and not unmet:
            return True, status
        reasons = [*client.failing(document), *(f"required {name} {found}" for name, found in unmet)]
        return False, f"{status} (HTTP {http_status})" + (f": {', '.join(reasons)}" if reasons else "")


def unmet_requirements(document: dict, required: list[str]) -> list[tuple[str, str]]:
    """(name, its worst status, or "missing") for each required check that does not pass."""
    checks = document.get("checks", {})
    unmet = []
    for name in required:
        statuses = [
            entry.get("status")
            for key, entries in checks.items()
            if key == name or (":" not in name and key.split(":")[0] == name)
            for entry in entries
        ]
        if not statuses:
            unmet.append((name, "missing"))
        elif any(found != "pass" for found in statuses):
            unmet.append((name, "fail" if "fail" in statuses else "warn"))
    return unmet
