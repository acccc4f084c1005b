"""`manage.py schedule_sync`: write the periodic jobs declared in code into beat's schedule."""

import json

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
        report = sync_jobs(jobs, dry_run=dry_run)
        if as_json:
            self.stdout.write(json.dumps(report.as_dict() | {"dry_run": dry_run}, indent=2, sort_keys=True))
            return
        verb = "would be" if dry_run else ""
        for label, names in (
            ("created", report.created),
            ("updated", report.updated),
            ("disabled", report.disabled),
        ):
            for name in names:
                self.stdout.write(f"{label:9} {name}")
        summary = (
            f"{len(report.created)} created, {len(report.updated)} updated, {len(report.disabled)} disabled, "
            f"{len(report.unchanged)} unchanged"
        )
        self.stdout.write(f"{summary} {verb}".rstrip())
