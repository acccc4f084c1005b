"""`manage.py schedule_list`: every periodic job, its last run and outcome, next due, lateness."""

import json

from django.core.management.base import BaseCommand

from scheduler.leadership import coordinator, is_fresh
from scheduler.runlog import job_statuses


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


class Command(BaseCommand):
    help = (
        "List every periodic job declared in code with its schedule, whether it is enabled, its "
        "last run and outcome, the next due time (UTC) and whether it is late (no success within "
        "its interval plus SCHEDULE_LATE_GRACE). Also shows which beat leads and the standbys. "
        "Exit 1 when a critical job is late."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", dest="as_json", help="print JSON")

    def handle(self, *args, as_json=False, **options):
        statuses = job_statuses()
        beats = _beats()
        if as_json:
            payload = {"jobs": [s.as_dict() for s in statuses], "beats": beats}
            self.stdout.write(json.dumps(payload, indent=2, sort_keys=True))
        else:
            self.stdout.write(
                f"{'job':32} {'schedule':28} {'on':3} {'last run (UTC)':19} {'outcome':8} "
                f"{'next due (UTC)':19} late"
            )
            for s in statuses:
                late = f"LATE {s.late_by_seconds}s" + (" CRITICAL" if s.critical else "") if s.late else "-"
                self.stdout.write(
                    f"{s.name[:32]:32} {s.schedule[:28]:28} {'yes' if s.enabled else 'no':3} "
                    f"{_when(s.last_run_at):19} {(s.last_outcome or '-'):8} {_when(s.next_due_at):19} {late}"
                )
            for name, state in sorted(beats.items()):
                self.stdout.write(f"beat {name}: {state['role']}, last heartbeat {state['age']:.0f}s ago")
            if not beats:
                self.stdout.write("beat: no beat has published a heartbeat")
        if any(s.late and s.critical for s in statuses):
            raise SystemExit(1)


def _beats() -> dict:
    try:
        members = coordinator().members()
    except Exception as exc:
        return {"error": {"role": "unknown", "age": 0, "detail": type(exc).__name__}}
    return {
        name: {
            "role": state["role"] if is_fresh(state) or state["role"] == "stopped" else "stale",
            "age": round(state["age"], 1),
        }
        for name, state in members.items()
    }
