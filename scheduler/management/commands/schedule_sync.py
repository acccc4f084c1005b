"""`manage.py schedule_sync`: write the periodic jobs declared in code into beat's schedule."""

import json
from dataclasses import asdict

from django.core.management.base import BaseCommand, CommandError

from scheduler.periodic import registered_jobs
from scheduler.sync import sync_jobs


class Command(BaseCommand):
    help = (
        "Write every periodic job declared in an app's jobs.py into django-celery-beat's tables. "
        "Creates new jobs, updates changed ones, disables (never deletes) jobs the code no longer "
        "declares, and keeps an operator's enabled/disabled choice. Idempotent: a second run "
        "changes nothing. Run by `make run` and by the deploy's migrate step."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="say what would change, write nothing")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print the report as JSON")

    def handle(self, *args, dry_run=False, as_json=False, **options):
        try:
            jobs = registered_jobs()
        except (ValueError, ImportError) as exc:
            raise CommandError(f"cannot read the job registry: {exc}", returncode=2) from exc
        report = asdict(sync_jobs(jobs, dry_run=dry_run))
        if as_json:
            self.stdout.write(json.dumps(report | {"dry_run": dry_run}, indent=2, sort_keys=True))
            return
        for label in ("created", "updated", "disabled"):
            for name in report[label]:
                self.stdout.write(f"{label:9} {name}")
        summary = ", ".join(f"{len(names)} {label}" for label, names in report.items())
        self.stdout.write(f"{summary} would be" if dry_run else summary)
