"""Running a periodic job now, outside its schedule: sent as beat sends it, so the run log sees it.

The message carries django-celery-beat's `periodic_task_name` header, like every message beat
sends: the worker records the run in the run log (scheduler.runlog), and `wait_for_outcome`
reads it there, which works for tasks that store no result (`ignore_result`) too.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from celery import current_app
from django.db import DatabaseError

from scheduler.models import JobRun

FINAL = (JobRun.SUCCESS, JobRun.FAILURE)


def send(periodic) -> str:
    """Publish one run of the django-celery-beat PeriodicTask `periodic`; its task id."""
    routing = {name: getattr(periodic, name) for name in ("queue", "exchange", "routing_key", "priority")}
    result = current_app.send_task(
        periodic.task,
        args=json.loads(periodic.args or "[]"),
        kwargs=json.loads(periodic.kwargs or "{}"),
        headers={"periodic_task_name": periodic.name},
        **{name: value for name, value in routing.items() if value not in (None, "")},
    )
    return result.id


@dataclass
class Outcome:
    outcome: str  # success, failure, or "" when no outcome came within the wait
    retries_seen: int
    run: JobRun | None


def wait_for_outcome(task_id: str, timeout: float, on_retry=None, poll: float = 0.2) -> Outcome:
    """Wait until the run of `task_id` succeeded or failed for good (retries are waited out)."""
    deadline = time.monotonic() + timeout
    retries, run, seen = 0, None, set()
    while True:
        try:
            run = JobRun.objects.filter(task_id=task_id).first()
        except DatabaseError:
            run = None  # a blip: the next poll asks again
        if run is not None and run.outcome in FINAL:
            return Outcome(run.outcome, retries, run)
        # Each attempt rewrites the one row of its task id: a retry is told apart by its end time.
        if run is not None and run.outcome == JobRun.RETRY and run.finished_at not in seen:
            seen.add(run.finished_at)
            retries += 1
            if on_retry is not None:
                on_retry(run)
        if time.monotonic() >= deadline:
            return Outcome("", retries, run)
        time.sleep(poll)
