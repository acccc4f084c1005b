"""What the dashboard and /metrics show: one function per panel, read from the live system.

Each panel is guarded: a broken part gives that panel an `error` and leaves the others intact.
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


def _pick(row, names: str, **computed) -> dict:
    """The row's attributes named in `names`, then the `computed` keys."""
    return {name: getattr(row, name) for name in names.split()} | computed


def guarded(name: str, panel: Callable[[], dict]) -> dict:
    from health.redact import redact

    try:
        return panel()
    except Exception as exc:
        error = redact(f"{type(exc).__name__}: {exc}")[:300]
        log.warning("operations panel %s failed: %s", name, error)
        return {"error": error}


def health() -> dict:
    from health.runner import run

    report = run()
    components = [
        _pick(
            r, "component measurement status", value=r.observed_value, unit=r.observed_unit, output=r.output
        )
        for r in report.results
    ]
    return {"status": report.status, "components": components}


def latency_ms(results: list[dict]) -> dict[str, float]:
    """Response times (ms) by component, from health() entries measuring `responseTime`."""
    return {
        entry["component"]: float(entry["value"])
        for entry in results
        if entry["measurement"] == "responseTime" and isinstance(entry["value"], int | float)
    }


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


def failed_jobs(latest: int = 10) -> dict:
    from queueops.models import FailedJob

    jobs = FailedJob.objects.order_by("-failed_at", "-id")
    return {
        "count": jobs.count(),
        "latest": [
            _pick(job, "task queue exception attempts", id=job.pk, failed_at=_iso(job.failed_at))
            | {"message": job.shown_message[:300]}
            for job in jobs[:latest]
        ],
    }


def _alert(alert) -> dict:
    times = {"opened_at": _iso(alert.opened_at), "resolved_at": _iso(alert.resolved_at)}
    return _pick(alert, "key severity summary source reminders", id=alert.pk, **times)


def alerts(recent_hours: int = 24, limit: int = 20) -> dict:
    from alerts.models import Alert

    since = timezone.now() - timedelta(hours=recent_hours)
    return {
        "open": [_alert(a) for a in Alert.objects.filter(resolved_at__isnull=True)[:limit]],
        "resolved": [
            _alert(a) for a in Alert.objects.filter(resolved_at__gte=since).order_by("-resolved_at")[:limit]
        ],
    }


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


def mail() -> dict:
    from mailops.models import MailEvent, OutboundMessage, Suppression

    since = timezone.now() - timedelta(hours=24)
    # Every type named: the day's range of each type in the (event_type, occurred_at) index, read
    # from the index alone; by occurred_at alone it fetches each row for its type.
    by_type = dict(
        MailEvent.objects.filter(event_type__in=MailEvent.Type.values, occurred_at__gte=since)
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


def backups() -> dict:
    from backups.models import BackupDrill, BackupRecord

    good = BackupRecord.objects.filter(status=BackupRecord.OK)
    newest = good.order_by("-finished_at", "-started_at").first()
    drill = BackupDrill.objects.order_by("-finished_at").first()
    if newest:
        at = newest.finished_at or newest.started_at
        age = round((timezone.now() - at).total_seconds())
        newest = _pick(newest, "backup_id stored_size raw_size", at=_iso(at), age_seconds=age)
    return {
        "newest": newest,
        "drill": drill and _pick(drill, "backup_id status rto_seconds", finished_at=_iso(drill.finished_at)),
        "storage_bytes": good.aggregate(total=Sum("stored_size"))["total"] or 0,
        "count": good.count(),
    }


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
