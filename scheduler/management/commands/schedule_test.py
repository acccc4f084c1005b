"""`manage.py schedule_test`: what beat would send in the next N minutes, per the database."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from django.utils import timezone

from audit.commands import AuditedCommand
from scheduler.forecast import upcoming

SHOWN_TIMES = 5


def _minutes(value: str) -> float:
    try:
        minutes = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of minutes") from None
    if not 0 < minutes <= 7 * 24 * 60:
        raise argparse.ArgumentTypeError(f"{value!r}: give more than 0 and at most a week (10080) minutes")
    return minutes


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


class Command(AuditedCommand):
    one_line_usage = True
    help = (
        "List what beat would send in the next N minutes (Laravel's schedule:test/schedule:list), "
        "read from the schedule in the database (django-celery-beat's enabled periodic tasks, as "
        "schedule_sync and operators left them), with the times in UTC, soonest first. Changes "
        "nothing. A job already overdue shows as due now."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--minutes", type=_minutes, default=60.0, help="the window, from now (default 60)"
        )
        parser.add_argument("--json", action="store_true", dest="as_json", help="every time, as JSON")

    def handle(self, *args, minutes, as_json=False, **options):
        now = timezone.now()
        jobs = upcoming(now, minutes)
        if as_json:
            payload = {
                "from": now.isoformat(),
                "minutes": minutes,
                "jobs": [{**asdict(job), "times": [at.isoformat() for at in job.times]} for job in jobs],
            }
            self.stdout.write(json.dumps(payload, indent=2))
            return
        self.stdout.write(f"From {_when(now)} UTC, the next {minutes:g} minutes:")
        if not jobs:
            self.stdout.write("nothing is due (no enabled job fires in the window)")
        for job in jobs:
            shown = ", ".join(
                _when(at)[11:] if at.date() == now.date() else _when(at) for at in job.times[:SHOWN_TIMES]
            )
            more = len(job.times) - SHOWN_TIMES
            if more > 0:
                shown += f", ... {more}{'+' if job.truncated else ''} more, last {_when(job.times[-1])}"
            self.stdout.write(f"{job.name} ({job.task}): {len(job.times)} run(s) at {shown}")
