"""Failed jobs: recording a task whose last attempt failed, and dispatching it again.

A last attempt often fails because the database is down: the row is then spooled as JSON onto a
Redis list (`SPOOL_KEY`) that every worker's heartbeat timer writes into the table once the
database answers (`flush_spool`). Writing is `get_or_create` on the unique task id, and an entry
leaves the spool only after its row exists, so concurrent or killed flushes still leave one row
per task. With both the database and Redis down (or no Redis) the failure is left to the log.
"""

from __future__ import annotations

import json
import logging
import traceback as tb
import uuid
from dataclasses import dataclass
from functools import cache as memoize

from django.db import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from kombu.utils import json as kombu_json

from audit import log as audit
from audit.models import AuditEntry
from health.redact import mask
from keyvalue import redis_client
from queueops.keys import PREFIX
from queueops.models import FailedJob

log = logging.getLogger(__name__)

# The database not answering (down, restarting, unreachable), as opposed to refusing the row.
UNREACHABLE = (OperationalError, InterfaceError)
SPOOL_KEY = f"{PREFIX}failed-spool"
# Entries one flush writes at most, so a long backlog does not hold a worker's timer for long.
FLUSH_BATCH = 100


@memoize
def _broker_uri(app) -> str:
    return app.connection_for_write().as_uri()  # kombu masks the password


# A failed job whose arguments cannot be stored as they are keeps their repr under this key, in
# place of both `args` and `kwargs` (Celery's args are never an object, so the mark cannot be a
# task's own arguments); `retry` refuses such a job rather than send the repr as arguments.
UNSTORABLE = "unstorable_repr"
# The longest repr kept of arguments that cannot be stored.
UNSTORABLE_REPR_CHARS = 2000


class NotReplayable(Exception):
    """The failed job's arguments were not stored (only their repr was): it cannot be sent again."""


def _stored_arguments(args, kwargs) -> dict:
    """`args` and `kwargs` as stored: strict JSON in kombu's encoding (the worker's JSON
    serializer: dates, decimals, UUIDs and bytes come back as they were sent), or when they
    have no such form (NaN, infinities, ints past Python's digit limit, other objects) their
    repr under UNSTORABLE. The database may refuse even strict JSON (MariaDB's JSON check:
    lone surrogates, nesting past 32 levels); `_write` then falls back to the repr too.
    """
    try:
        encoded = kombu_json.dumps([list(args or ()), dict(kwargs or {})], allow_nan=False)
        stored_args, stored_kwargs = json.loads(encoded)
    except (TypeError, ValueError, RecursionError):
        return unstorable(args, kwargs)
    return {"args": stored_args, "kwargs": stored_kwargs}


def unstorable(args, kwargs) -> dict:
    """The marked repr kept for arguments that cannot be stored (an ASCII string: JSON-valid)."""
    return {"args": {UNSTORABLE: _repr(args)}, "kwargs": {UNSTORABLE: _repr(kwargs)}}


def _repr(value) -> str:
    try:
        text = ascii(value)
    except Exception:  # a repr that raises (an int past the digit limit, a broken __repr__)
        text = f"<{type(value).__name__} without a repr>"
    if len(text) > UNSTORABLE_REPR_CHARS:
        text = text[: UNSTORABLE_REPR_CHARS - 1] + "~"
    return text


def record_failure(
    task, request, exc: BaseException, attempts: int, traceback: str | None = None
) -> FailedJob | None:
    """Store the failed task once: a second report for the same task id finds the first row.

    With the database unreachable the row is spooled to Redis and written later (the module's
    docstring); None then. Raises only when it can be neither written nor spooled.
    """
    fields = failure_fields(task, request, exc, attempts, traceback)
    try:
        return _write(request.id, fields)
    except UNREACHABLE as error:
        if not spool(request.id, fields):
            raise
        log.warning(
            "task %s[%s] failed after %d attempt(s) while the database is unreachable (%s); spooled, it "
            "becomes a failed job once the database is back",
            *(task.name, request.id, attempts, type(error).__name__),
        )
        return None


def failure_fields(task, request, exc: BaseException, attempts: int, traceback: str | None) -> dict:
    """The FailedJob's columns (task id aside), all JSON-serialisable; read without the database."""
    from queueops.broker import sent_to

    delivery = request.delivery_info or {}
    exchange, routing_key = sent_to(delivery)
    exc_type = type(exc)
    return {
        "connection": _broker_uri(task.app),
        "queue": routing_key,  # Celery routes by key: the key is the queue's name
        "exchange": exchange,
        "routing_key": routing_key,
        "priority": delivery.get("priority"),
        "task": task.name,
        **_stored_arguments(request.args, request.kwargs),
        "exception": f"{exc_type.__module__}.{exc_type.__qualname__}"[:255],
        # Masked before they are stored or spooled, as health output is: client libraries put
        # URLs with their passwords in exception messages.
        "message": mask(str(exc)),
        "traceback": mask(tb.format_exc() if traceback is None else traceback),
        "attempts": attempts,
        "worker": request.hostname or "",
        "failed_at": timezone.now().isoformat(),
    }


def _write(task_id: str, fields: dict) -> FailedJob:
    defaults = {**fields, "failed_at": parse_datetime(fields["failed_at"])}
    try:
        job, created = FailedJob.objects.get_or_create(task_id=task_id, defaults=defaults)
    except (IntegrityError, DataError) as error:
        # The database refused the arguments (MariaDB's JSON_VALID check: lone surrogates,
        # nesting past 32 levels): the failure is recorded all the same, with their repr.
        log.warning(
            "failed job %s: arguments refused by the database (%s); keeping their repr", task_id, error
        )
        defaults.update(unstorable(fields["args"], fields["kwargs"]))
        job, created = FailedJob.objects.get_or_create(task_id=task_id, defaults=defaults)
    if created:
        recorded = (fields["task"], task_id, fields["attempts"], job.pk)
        log.error("task %s[%s] failed after %d attempt(s); recorded as failed job #%s", *recorded)
    return job


# --- the spool: failed jobs waiting for the database ------------------------------------------


def spool(task_id: str, fields: dict) -> bool:
    """Keep a failed job in Redis until the database takes it; False when Redis cannot."""
    client = redis_client()  # None in the embedded profile (no Redis)
    if client is None:
        return False
    try:
        client.rpush(SPOOL_KEY, json.dumps({"task_id": task_id, **fields}))
    except Exception as error:  # Redis down too: nowhere left to keep it
        log.error("failed job %s could not be spooled either: %s", task_id, type(error).__name__)
        return False
    return True


def spooled() -> int:
    """How many failed jobs wait in the spool."""
    client = redis_client()
    return client.llen(SPOOL_KEY) if client is not None else 0


def flush_spool() -> int:
    """Write spooled failed jobs into the table; returns how many left the spool.

    Stops at the first database error, leaving the rest for the next call. A failed job
    already in the table (written by a concurrent flush) is not written again.
    """
    client = redis_client()
    if client is None or not client.llen(SPOOL_KEY):
        return 0
    close_old_connections()  # a connection broken by the outage must not fail every flush
    flushed = 0
    for raw in client.lrange(SPOOL_KEY, 0, FLUSH_BATCH - 1):
        try:
            entry = json.loads(raw)
            task_id = entry.pop("task_id")
        except (TypeError, ValueError, KeyError):
            log.error("dropping an unreadable failed-job spool entry: %.200s", raw)
        else:
            try:
                _write(task_id, entry)
            except UNREACHABLE as error:
                log.warning("failed-job spool not flushed yet: %s", type(error).__name__)
                break
        client.lrem(SPOOL_KEY, 1, raw)
        flushed += 1
    return flushed


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
    someone else holds it. A broker error propagates with the row still in place, as does
    NotReplayable for a job whose arguments were not stored.
    """
    from celery import current_app as app

    if not job.replayable:
        raise NotReplayable(
            f"its arguments could not be stored (only their repr, under {UNSTORABLE!r}); "
            "send the task again by hand"
        )
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


def retry_audited(
    request, jobs: QuerySet[FailedJob] | list[FailedJob], channel: str
) -> tuple[list[Retried], list[tuple[FailedJob, Exception]], dict]:
    """`retry_many` with its one `failed_job.retry_many` audit entry (the admin's and the API's)."""
    jobs = list(jobs)
    done, failed = retry_many(jobs)
    detail = {
        "retried": [item.job_id for item in done],
        "failed": [{"id": job.pk, "error": type(exc).__name__} for job, exc in failed],
    }
    outcome = AuditEntry.FAILED if failed else AuditEntry.OK
    what = f"{len(jobs)} failed job(s)"
    audit.record(request, "failed_job.retry_many", what, detail, channel=channel, outcome=outcome)
    return done, failed, detail
