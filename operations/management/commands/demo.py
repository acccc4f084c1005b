"""`manage.py demo`: fill the database with a realistic day so every part of the project shows content."""

from __future__ import annotations

import json
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from operations import demo


class Command(BaseCommand):
    help = (
        "Load a realistic day into the database (development only, refused in production): agents "
        "and requesters (demo-*), tickets with replies and notes and an SLA breach, a failed job, "
        "mail events with a bounce and its suppression, a real backup and a passing restore drill, "
        "alerts, and 24 h of queue history and scheduler runs, so every dashboard panel, the ops "
        "API and ops_report show real content. Refuses to load twice; --reset removes the demo's "
        "rows first (backups stay). --offer (make run): on a terminal, ask before loading into an "
        "empty database; otherwise say how to load it. A progress bar on a TTY; quiet with --json. "
        "Exit 0 loaded, 1 a part failed, 2 refused (production, or already loaded)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="remove the demo's rows, then load again")
        parser.add_argument("--offer", action="store_true", help="ask first (on a TTY), never refuse")
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="print what was loaded as JSON"
        )

    def handle(self, *args, reset=False, offer=False, as_json=False, **options):
        if settings.PRODUCTION:
            raise CommandError("the demo data is for development only (DJANGO_ENV=production)", returncode=2)
        if offer:
            if demo.loaded() or not self._accepted():
                return
        elif demo.loaded() and not reset:
            raise CommandError(
                "the demo day is already loaded; `manage.py demo --reset` loads it again", returncode=2
            )
        removed = demo.remove() if reset else {}
        loaded = {}
        steps = demo.steps()
        bar = tqdm(steps, desc="demo", unit="part", disable=True if as_json else None, file=sys.stderr)
        for label, step in bar:
            bar.set_postfix_str(label)
            try:
                loaded[label] = _summary(step())
            except Exception as exc:
                bar.close()
                raise CommandError(
                    f"loading the demo's {label} failed: {type(exc).__name__}: {exc} "
                    "(`manage.py demo --reset` removes what was loaded and tries again)"
                ) from exc
        bar.close()
        if as_json:
            self.stdout.write(json.dumps({"removed": removed, "loaded": loaded}, indent=2, sort_keys=True))
            return
        self.stdout.write(
            "Demo day loaded: " + ", ".join(f"{label} ({value})" for label, value in loaded.items()) + "."
        )

    def _accepted(self) -> bool:
        if demo.holds_own_data():
            return False  # someone's own data: never offered
        if not sys.stdin.isatty():
            self.stdout.write("Empty database: `make demo` fills it with a realistic day.")
            return False
        try:
            answer = input("The database is empty. Load a realistic demo day into it? [Y/n] ").strip().lower()
        except EOFError:  # Ctrl-D: a no, and `make run` goes on to start the stack
            answer = "n"
            self.stdout.write("")
        if answer in ("", "y", "yes"):
            return True
        self.stdout.write("Not loaded: `make demo` fills it any time.")
        return False


def _summary(result) -> str:
    if isinstance(result, int):
        return str(result)
    if isinstance(result, list):
        return str(len(result))
    if hasattr(result, "rto_seconds"):  # a BackupDrill
        return f"{result.status}, RTO {result.rto_seconds:.1f} s"
    if hasattr(result, "sha256"):  # a backup's Manifest
        return result.id
    return "done"
