"""Failed jobs: recording a task whose last attempt failed, and dispatching it again.

Used by the retry policy (record), the queue_* commands and the admin (retry, forget).
"""

from __future__ import annotations

import json
import logging
import traceback as tb
import uuid
from dataclasses import dataclass
from functools import cache as memoize

from django.db import connection, transaction
from django.db.models import QuerySet

from queueops.models import FailedJob

log = logging.getLogger(__name__)


@memoize
def _broker_uri(app) -> str:
    return app.connection_for_write().as_uri()  # kombu masks the password


def _json(value, empty):
    try:
        return json.loads(json.dumps(value if value is not None else empty, default=repr))
    except (TypeError, ValueError):
        return empty


def record_failure(
    task, request, exc: BaseException, attempts: int, traceback: str | None = None
) -> FailedJob:
    """Store the failed task once: a second report for the same task id finds the first row."""
    delivery = request.delivery_info or {}
    exchange = delivery.get("exchange") or ""
    routing_key = delivery.get("routing_key") or ""
    exc_type = type(exc)
    job, created = FailedJob.objects.get_or_create(
        task_id=request.id,
        defaults={
            "connection": _broker_uri(task.app),
            "queue": routing_key,  # Celery routes by key: the key is the queue's name
            "exchange": exchange,
            "routing_key": routing_key,
            "priority": delivery.get("priority"),
            "task": task.name,
            "args": _json(request.args, []),
            "kwargs": _json(request.kwargs, {}),
            "exception": f"{exc_type.__module__}.{exc_type.__qualname__}"[:255],
            "message": str(exc),
            "traceback": tb.format_exc() if traceback is None else traceback,
            "attempts": attempts,
            "worker": request.hostname or "",
        },
    )
    if created:
        log.error(
            "task %s[%s] failed after %d attempt(s); recorded as failed job #%s",
            task.name,
            request.id,
            attempts,
            job.pk,
        )
    return job


@dataclass
class Retried:
    job_id: int
    task: str
    old_task_id: str
    new_task_id: str


def retry(job: FailedJob) -> Retried | None:
    """Send the job again (same task, arguments, queue and routing; a new task id, so its
    attempts start from one) and delete the row once the broker took the message.

    The row is locked while sending, so two operators retrying at once send it once; None when
    someone else holds it. A broker error propagates with the row still in place.
    """
    from opsproject.celery import app

    with transaction.atomic():
        locked = FailedJob.objects.filter(pk=job.pk)
        if connection.features.has_select_for_update_skip_locked:
            locked = locked.select_for_update(skip_locked=True)
        job = locked.first()
        if job is None:
            return None
        options = {"task_id": str(uuid.uuid4()), "headers": {"retry_of": job.task_id}}
        if job.exchange in ("", job.routing_key):  # the anonymous or the queue's own exchange
            options["queue"] = job.queue
        else:
            options.update(exchange=job.exchange, routing_key=job.routing_key)
        if job.priority is not None:
            options["priority"] = job.priority
        result = app.send_task(job.task, args=job.args, kwargs=job.kwargs, **options)
        retried = Retried(job_id=job.pk, task=job.task, old_task_id=job.task_id, new_task_id=result.id)
        job.delete()
    return retried


def retry_many(
    jobs: QuerySet[FailedJob] | list[FailedJob],
) -> tuple[list[Retried], list[tuple[FailedJob, Exception]]]:
    """Retry each job; returns those sent and those whose sending failed (rows kept)."""
    done, failed = [], []
    for job in jobs:
        try:
            retried = retry(job)
        except Exception as exc:  # a broker or database error for one job: report it, go on
            failed.append((job, exc))
            continue
        if retried is not None:  # None: another retry of the same row holds it
            done.append(retried)
    return done, failed
