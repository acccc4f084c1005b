"""`manage.py ops_report`: the operations readiness report, computed from the running system."""

import json

from django.core.management.base import BaseCommand, CommandError

from operations.report import build_report


def _score(value: str) -> float:
    try:
        score = float(value)
    except ValueError:
        raise CommandError(f"--min-score takes a number from 0 to 10, not {value!r}", returncode=2) from None
    if not 0 <= score <= 10:
        raise CommandError(f"--min-score takes a number from 0 to 10, not {value!r}", returncode=2)
    return score


class Command(BaseCommand):
    help = (
        "Print the operations readiness report in the old report's sections (queue workers, "
        "scheduler, mail, realtime, backups, health endpoints). Every item is judged now from the "
        "running system: health checks run fresh, worker and beat heartbeats, the schedule and "
        "its run log, mail and backup records. "
        "Score: 10 x (points / items) with ok = 1, partial = 0.5, missing = 0. "
        "Exit 1 when the score is below --min-score, 2 on bad usage."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--format", choices=("md", "json"), default="md", help="markdown (default) or JSON"
        )
        parser.add_argument("--min-score", help="exit 1 when the score is below this (0-10)")

    def handle(self, *args, format="md", min_score=None, **options):
        minimum = _score(min_score) if min_score is not None else None
        report = build_report()
        if format == "json":
            self.stdout.write(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        else:
            self.stdout.write(report.as_markdown())
        if minimum is not None and report.score < minimum:
            self.stderr.write(f"readiness score {report.score:g} is below --min-score {minimum:g}")
            raise SystemExit(1)
