"""What the dashboard and /metrics show: one function per panel, read from the live system.

Each panel is read on its own and guarded: a broken part (Redis down, an app's table missing)
gives that panel an `error` and leaves the others intact, so the page is most useful exactly
when something is wrong.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Sum
from django.utils import timezone

log = logging.getLogger(__name__)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def guarded(name: str, panel: Callable[[], dict]) -> dict:
    from health.redact import redact

    try:
        return panel()
    except Exception as exc:
        error = redact(f"{type(exc).__name__}: {exc}")[:300]
        log.warning("operations panel %s failed: %s", name, error)
        return {"error": error}


# --- health ---------------------------------------------------------------------------------


def health() -> dict:
    from health.runner import run

    report = run()
    components = [
        {
            "component": result.component,
            "measurement": result.measurement,
            "status": result.status,
            "value": result.observed_value,
            "unit": result.observed_unit,
            "output": result.output,
        }
        for result in report.results
    ]
    return {"status": report.status, "components": components}


def latency_ms(results: list[dict]) -> dict[str, float]:
    """Response times (ms) by component, from health() entries measuring `responseTime`."""
    return {
        entry["component"]: float(entry["value"])
        for entry in results
        if entry["measurement"] == "responseTime" and isinstance(entry["value"], int | float)
    }


# --- queues and workers ---------------------------------------------------------------------


def queues(with_history: bool = True) -> dict:
    from operations import history, outcomes
    from queueops.broker import known_queues, queue_stats
    from queueops.heartbeat import consumers_by_queue, workers

    beats = workers(include_lost=True)
    live = [beat for beat in beats if beat.alive]
    consumers = consumers_by_queue(live)
    now = time.time()
    rows = [
        {
            "name": stat.name,
            "size": stat.size,
            "oldest_wait": None if stat.oldest_age(now) is None else round(stat.oldest_age(now), 3),
            "consumers": consumers.get(stat.name, 0),
        }
        for stat in queue_stats(known_queues(beats=live))
    ]
    hour = guarded("throughput", lambda: outcomes.last_minutes(60))
    panel = {
        "queues": rows,
        "workers": [beat.as_dict() for beat in beats],
        "live_workers": len(live),
        "last_hour": hour,
    }
    if with_history:
        panel["history"] = history.series()
    return panel


# --- failed jobs ----------------------------------------------------------------------------


def failed_jobs(latest: int = 10) -> dict:
    from queueops.models import FailedJob

    jobs = FailedJob.objects.order_by("-failed_at", "-id")
    return {
        "count": jobs.count(),
        "latest": [
            {
                "id": job.pk,
                "task": job.task,
                "queue": job.queue,
                "exception": job.exception,
                "message": job.shown_message[:300],
                "attempts": job.attempts,
                "failed_at": _iso(job.failed_at),
            }
            for job in jobs[:latest]
        ],
    }


# --- alerts ---------------------------------------------------------------------------------


def _alert(alert) -> dict:
    return {
        "id": alert.pk,
        "key": alert.key,
        "severity": alert.severity,
        "summary": alert.summary,
        "source": alert.source,
        "opened_at": _iso(alert.opened_at),
        "resolved_at": _iso(alert.resolved_at),
        "reminders": alert.reminders,
    }


def alerts(recent_hours: int = 24, limit: int = 20) -> dict:
    from alerts.models import Alert

    since = timezone.now() - timedelta(hours=recent_hours)
    return {
        "open": [_alert(a) for a in Alert.objects.filter(resolved_at__isnull=True)[:limit]],
        "resolved": [
            _alert(a) for a in Alert.objects.filter(resolved_at__gte=since).order_by("-resolved_at")[:limit]
        ],
    }


# --- scheduler ------------------------------------------------------------------------------


def scheduler() -> dict:
    from scheduler.leadership import coordinator, is_fresh
    from scheduler.runlog import job_statuses

    coord = coordinator()
    leader = coord.leader()
    members = coord.members()
    beats = [
        {
            "name": name,
            "role": state.get("role"),
            "age": round(state["age"], 1),
            "alive": is_fresh(state),
            "leader": name == leader,
        }
        for name, state in sorted(members.items())
    ]
    leader_state = members.get(leader or "", {})
    return {
        "leader": leader,
        "leader_last_tick_age": round(leader_state["age"], 1) if "age" in leader_state else None,
        "leader_last_tick_at": leader_state.get("at"),
        "beats": beats,
        "standbys": [b["name"] for b in beats if b["role"] == "standby" and b["alive"]],
        "jobs": [status.as_dict() for status in job_statuses()],
        "heartbeat_max_age": settings.BEAT_HEARTBEAT_MAX_AGE,
    }


# --- mail -----------------------------------------------------------------------------------


def mail() -> dict:
    from mailops.models import MailEvent, OutboundMessage, Suppression

    since = timezone.now() - timedelta(hours=24)
    by_type = dict(
        MailEvent.objects.filter(occurred_at__gte=since)
        .values_list("event_type")
        .annotate(n=Count("id"))
        .order_by()
    )
    sent = OutboundMessage.objects.filter(sent_at__gte=since).count()
    bounced = by_type.get(MailEvent.Type.BOUNCED, 0)
    return {
        "events_24h": by_type,
        "sent_24h": sent,
        "bounce_rate": round(min(100.0, 100.0 * bounced / sent), 2) if sent else 0.0,
        "suppressions": Suppression.objects.count(),
    }


# --- backups --------------------------------------------------------------------------------


def backups() -> dict:
    from backups.models import BackupDrill, BackupRecord

    newest = (
        BackupRecord.objects.filter(status=BackupRecord.OK).order_by("-finished_at", "-started_at").first()
    )
    drill = BackupDrill.objects.order_by("-finished_at").first()
    stored = BackupRecord.objects.filter(status=BackupRecord.OK).aggregate(total=Sum("stored_size"))["total"]
    at = (newest.finished_at or newest.started_at) if newest else None
    return {
        "newest": None
        if newest is None
        else {
            "backup_id": newest.backup_id,
            "at": _iso(at),
            "age_seconds": round((timezone.now() - at).total_seconds()),
            "stored_size": newest.stored_size,
            "raw_size": newest.raw_size,
        },
        "drill": None
        if drill is None
        else {
            "backup_id": drill.backup_id,
            "status": drill.status,
            "finished_at": _iso(drill.finished_at),
            "rto_seconds": drill.rto_seconds,
        },
        "storage_bytes": stored or 0,
        "count": BackupRecord.objects.filter(status=BackupRecord.OK).count(),
    }


# --- realtime -------------------------------------------------------------------------------


def realtime() -> dict:
    from realtime import dropped_messages, open_connections

    connections = open_connections()
    dropped = dropped_messages()
    return {"connections": connections, "dropped": dropped, "dropped_total": sum(dropped.values())}


PANELS: dict[str, Callable[[], dict]] = {
    "health": health,
    "queues": queues,
    "failed": failed_jobs,
    "alerts": alerts,
    "scheduler": scheduler,
    "mail": mail,
    "backups": backups,
    "realtime": realtime,
}


def snapshot() -> dict:
    """Every panel, each guarded, with the time it was read."""
    data = {name: guarded(name, panel) for name, panel in PANELS.items()}
    data["at"] = _iso(timezone.now())
    return data
