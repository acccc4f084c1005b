"""Operator actions, shared by the ops API and the dashboard: each one does its work and audits it.

One AuditEntry per call, success or failure; `ActionFailed` (503) when a dependency such as the
broker refused. Nothing is half-done: a failed job's row goes only once the broker took it again.
"""

from __future__ import annotations

import logging
import uuid

from django.db import transaction

from audit import log as audit
from audit.models import AuditEntry
from health.redact import redact

log = logging.getLogger(__name__)


class ActionFailed(Exception):
    """The action could not be carried out (broker or storage down); the message says why."""


class ActionRefused(ActionFailed):
    """The action can never be carried out on this target as it is (409, not 503: trying again
    later does not help); the message says why."""


def _failed(request, channel, action, target, detail, error: Exception) -> None:
    detail = {**detail, "error": redact(f"{type(error).__name__}: {error}")}
    audit.record(request, action, target, detail, channel=channel, outcome=AuditEntry.FAILED)


def retry_failed(request, job, channel=AuditEntry.API) -> dict | None:
    """Send a failed job again; None when another operator is retrying it right now."""
    from queueops.failed import NotReplayable, retry

    detail = {"task": job.task, "task_id": job.task_id, "queue": job.queue}
    try:
        retried = retry(job)
    except NotReplayable as exc:
        _failed(request, channel, "failed_job.retry", f"failed job #{job.pk}", detail, exc)
        raise ActionRefused(f"failed job #{job.pk} cannot be retried: {exc}") from exc
    except Exception as exc:
        _failed(request, channel, "failed_job.retry", f"failed job #{job.pk}", detail, exc)
        raise ActionFailed(f"failed job #{job.pk} was not retried: {type(exc).__name__}") from exc
    if retried is None:
        return None
    outcome = {"id": retried.job_id, "task": retried.task, "new_task_id": retried.new_task_id}
    audit.record(request, "failed_job.retry", f"failed job #{job.pk}", {**detail, **outcome}, channel=channel)
    return outcome


def forget_failed(request, job, channel=AuditEntry.API) -> dict:
    pk = job.pk
    detail = {
        "id": pk,
        "task": job.task,
        "task_id": job.task_id,
        "queue": job.queue,
        "exception": job.exception,
    }
    with transaction.atomic():
        job.delete()
        audit.record(request, "failed_job.forget", f"failed job #{pk}", detail, channel=channel)
    return detail


def flush_failed(request, queryset, filters: dict, channel=AuditEntry.API) -> dict:
    with transaction.atomic():
        ids = list(queryset.values_list("pk", flat=True))
        deleted, _ = queryset.model.objects.filter(pk__in=ids).delete()
        detail = {"deleted": deleted, "filters": filters}
        audit.record(request, "failed_job.flush", f"{deleted} failed job(s)", detail, channel=channel)
    return detail


def run_schedule(request, periodic, channel=AuditEntry.API) -> dict:
    """Send the job's task now, as beat would (scheduler.run_now: the run log records it)."""
    from scheduler.run_now import send

    detail = {"task": periodic.task}
    try:
        try:
            task_id = send(periodic)
        except ValueError as exc:
            raise ActionFailed(f"its arguments in the schedule are not JSON ({exc})") from exc
        except Exception as exc:  # kombu's OperationalError, a socket error: the broker said no
            raise ActionFailed(f"the broker did not accept the task ({type(exc).__name__})") from exc
    except ActionFailed as exc:
        _failed(request, channel, "schedule.run", periodic.name, detail, exc)
        raise ActionFailed(f"{periodic.name} was not sent: {exc}") from exc
    detail["task_id"] = task_id
    audit.record(request, "schedule.run", periodic.name, detail, channel=channel)
    return {"name": periodic.name, **detail}


def set_schedule_enabled(request, periodic, enabled: bool, channel=AuditEntry.API) -> dict:
    action = "schedule.resume" if enabled else "schedule.pause"
    with transaction.atomic():
        was = periodic.enabled
        periodic.enabled = enabled
        periodic.save()  # django-celery-beat's save() tells beat the schedule changed
        audit.record(
            request, action, periodic.name, {"was_enabled": was, "enabled": enabled}, channel=channel
        )
    return {"name": periodic.name, "enabled": enabled}


def resolve_alert(request, alert, channel=AuditEntry.API) -> dict:
    from alerts.notices import resolve_alert as resolve

    with transaction.atomic():
        resolved = resolve(alert.key)
        detail = {"key": alert.key, "resolved": resolved is not None}
        audit.record(request, "alert.resolve", alert.key, detail, channel=channel)
    return detail


def _start(request, action: str, task: str, target: str, detail: dict, channel) -> dict:
    from celery import current_app as app

    try:
        task_id = app.send_task(task, kwargs=detail, task_id=str(uuid.uuid4())).id
    except Exception as exc:  # kombu's OperationalError, a socket error: the broker said no
        refused = ActionFailed(f"the broker did not accept the task ({type(exc).__name__})")
        _failed(request, channel, action, target, detail, refused)
        raise refused from exc
    audit.record(request, action, target, {**detail, "task_id": task_id}, channel=channel)
    return {**detail, "task_id": task_id}


def start_backup(request, alias: str, note: str, channel=AuditEntry.API) -> dict:
    detail = {"alias": alias, "note": note}
    return _start(request, "backup.start", "backups.run_backup", alias, detail, channel)


def start_drill(request, reference: str, alias: str, channel=AuditEntry.API) -> dict:
    detail = {"reference": reference, "alias": alias}
    return _start(request, "backup.drill", "backups.drill", reference, detail, channel)


def add_suppression(request, address: str, detail_text: str, channel=AuditEntry.API):
    from mailops.models import Suppression
    from mailops.suppression import suppress

    with transaction.atomic():
        row, created = suppress(
            address, Suppression.Reason.MANUAL, Suppression.Source.OPERATOR, detail=detail_text
        )
        audit.record(
            request, "suppression.add", row.address, {"created": created, "id": row.pk}, channel=channel
        )
    return row, created


def remove_suppression(request, row, channel=AuditEntry.API) -> dict:
    detail = {"id": row.pk, "address": row.address, "reason": row.reason}
    with transaction.atomic():
        row.delete()
        audit.record(request, "suppression.remove", detail["address"], detail, channel=channel)
    return detail
