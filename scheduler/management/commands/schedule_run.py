"""`manage.py schedule_run NAME`: run one periodic job now, through the broker, and print its outcome."""

from __future__ import annotations

import json

from django.core.management.base import CommandError

from audit.commands import AuditedCommand
from health.management.commands.health import positive_seconds
from scheduler.run_now import send, wait_for_outcome


class Command(AuditedCommand):
    one_line_usage = True
    help = (
        "Run the periodic job NAME now (Laravel's schedule:run for one job): its task is sent "
        "through the broker as beat sends it (same arguments, queue and run-log header), a worker "
        "runs it under the retry policy, and the command waits for the outcome in the run log and "
        "prints it. Exit 0 on success; 1 on failure (after its retries) or when no outcome came "
        "within --timeout; 2 on an unknown NAME, with the list of names (schedule_list shows them). "
        "Needs a running worker. A paused job runs too: pausing stops beat, not an operator."
    )
    audit_action = "schedule.run"
    audit_target = "name"

    def add_arguments(self, parser):
        parser.add_argument("name", help="the job's name, as schedule_list shows it")
        parser.add_argument(
            "--timeout",
            type=positive_seconds,
            default=600.0,
            help="seconds to wait for the outcome, retries included (default 600)",
        )
        parser.add_argument("--json", action="store_true", dest="as_json", help="print the outcome as JSON")

    def handle(self, *args, name, timeout, as_json=False, **options):
        from django_celery_beat.models import PeriodicTask

        periodic = PeriodicTask.objects.filter(name=name).first()
        if periodic is None:
            names = ", ".join(PeriodicTask.objects.order_by("name").values_list("name", flat=True))
            raise CommandError(
                f"no periodic job named {name!r}; the jobs are: {names or '(none)'}", returncode=2
            )
        try:
            task_id = send(periodic)
        except ValueError as exc:
            raise CommandError(
                f"{name} was not sent: its arguments in the schedule are not JSON ({exc})"
            ) from None
        except Exception as exc:  # kombu's OperationalError, a socket error: the broker said no
            raise CommandError(
                f"{name} was not sent: the broker did not accept it ({type(exc).__name__})"
            ) from None
        self.audit_detail.update(task=periodic.task, task_id=task_id)
        if not as_json:
            self.stdout.write(f"{name}: sent {periodic.task} as task {task_id}; waiting for its outcome")

        def retrying(run):
            if not as_json:
                self.stdout.write(f"{name}: attempt failed ({_first_line(run.error)}); retried by the policy")

        result = wait_for_outcome(task_id, timeout, on_retry=retrying)
        run = result.run
        summary = {
            "name": name,
            "task": periodic.task,
            "task_id": task_id,
            "outcome": result.outcome or "timeout",
            "retries": result.retries_seen,
            "duration_ms": run.duration_ms if run else None,
            "worker": run.worker if run else "",
            "error": run.error if run and result.outcome != "success" else "",
        }
        self.audit_detail.update(outcome=summary["outcome"])
        if as_json:
            self.stdout.write(json.dumps(summary, indent=2))
        elif result.outcome == "success":
            self.stdout.write(f"{name}: success in {run.duration_ms} ms on {run.worker}")
        elif result.outcome == "failure":
            self.stdout.write(
                f"{name}: failure after {result.retries_seen} retries on {run.worker}: "
                f"{_first_line(run.error)} (queue_failed lists it when the task is under the policy)"
            )
        else:
            where = "not started by any worker" if run is None else f"still {run.outcome} on {run.worker}"
            self.stdout.write(
                f"{name}: no outcome within {timeout:g} s ({where}); schedule_list shows it when it ends"
            )
        if result.outcome != "success":
            raise SystemExit(1)


def _first_line(text: str) -> str:
    return (text or "no error recorded").strip().splitlines()[0][:300]
