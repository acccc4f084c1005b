"""The Prometheus exposition at /metrics: a collector that reads the live system at scrape time.

Nothing is kept in this process, so any web process answers the same and a restart loses nothing;
task outcomes come from the workers' shared counters (operations.outcomes). Access: see
operations.views.metrics (METRICS_TOKEN or METRICS_ALLOWED_IPS).
"""

from __future__ import annotations

import logging
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import CollectorRegistry

from health.redact import redact
from operations import snapshot

log = logging.getLogger(__name__)

STATUS_VALUE = {"pass": 0, "warn": 1, "fail": 2}


def _timestamp(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso).timestamp() if iso else None


class OpsCollector:
    """Yields every ops metric family; a part that cannot be read sets ops_scrape_error{part}."""

    def collect(self):
        errors = GaugeMetricFamily(
            "ops_scrape_error",
            "1 when this part of the system could not be read in this scrape.",
            labels=["part"],
        )
        for part, reader in (
            ("health", self._health),
            ("queues", self._queues),
            ("tasks", self._tasks),
            ("failed_jobs", self._failed),
            ("scheduler", self._scheduler),
            ("backups", self._backups),
            ("mail", self._mail),
            ("realtime", self._realtime),
        ):
            try:
                families = list(reader())
            except Exception as exc:
                log.warning("metrics: %s not read: %s", part, redact(f"{type(exc).__name__}: {exc}"))
                errors.add_metric([part], 1)
                continue
            errors.add_metric([part], 0)
            yield from families
        yield errors

    def _health(self):
        panel = snapshot.health()
        status = GaugeMetricFamily(
            "ops_health_status",
            "Health of each component and measurement: 0 pass, 1 warn, 2 fail.",
            labels=["component", "measurement"],
        )
        latency = GaugeMetricFamily(
            "ops_health_check_latency_seconds",
            "Response time each health check measured.",
            labels=["component"],
        )
        for entry in panel["components"]:
            status.add_metric([entry["component"], entry["measurement"]], STATUS_VALUE[entry["status"]])
        for component, ms in snapshot.latency_ms(panel["components"]).items():
            latency.add_metric([component], ms / 1000)
        overall = GaugeMetricFamily("ops_health_overall_status", "Overall health: 0 pass, 1 warn, 2 fail.")
        overall.add_metric([], STATUS_VALUE[panel["status"]])
        return [status, latency, overall]

    def _queues(self):
        panel = snapshot.queues(with_history=False)
        size = GaugeMetricFamily("ops_queue_size", "Messages waiting in each queue.", labels=["queue"])
        wait = GaugeMetricFamily(
            "ops_queue_oldest_wait_seconds", "Age of the oldest waiting message (0: none).", labels=["queue"]
        )
        # Per queue: a worker alive on another queue (the drill worker's `restore`) runs nothing here.
        consumers = GaugeMetricFamily(
            "ops_queue_consumers", "Workers with a fresh heartbeat that consume the queue.", labels=["queue"]
        )
        for row in panel["queues"]:
            size.add_metric([row["name"]], row["size"])
            wait.add_metric([row["name"]], row["oldest_wait"] or 0)
            consumers.add_metric([row["name"]], row["consumers"])
        workers = GaugeMetricFamily("ops_workers_live", "Celery workers with a fresh heartbeat.")
        workers.add_metric([], panel["live_workers"])
        return [size, wait, consumers, workers]

    def _tasks(self):
        from operations.outcomes import totals

        outcomes = CounterMetricFamily(
            "ops_task_outcomes",
            "Task runs by task and outcome, over every worker process.",
            labels=["task", "state"],
        )
        for (task, state), value in sorted(totals().items()):
            outcomes.add_metric([task, state], value)
        return [outcomes]

    def _failed(self):
        from queueops.models import FailedJob

        total = GaugeMetricFamily("ops_failed_jobs", "Failed jobs waiting for an operator (retry or forget).")
        total.add_metric([], FailedJob.objects.count())
        return [total]

    def _scheduler(self):
        panel = snapshot.scheduler()
        leader = GaugeMetricFamily(
            "ops_beat_leader", "1 for the beat holding the leader lock.", labels=["beat"]
        )
        for beat in panel["beats"]:
            leader.add_metric([beat["name"]], 1 if beat["leader"] else 0)
        has_leader = GaugeMetricFamily("ops_beat_has_leader", "1 when some beat holds the leader lock.")
        has_leader.add_metric([], 1 if panel["leader"] else 0)
        tick = GaugeMetricFamily(
            "ops_beat_last_tick_timestamp_seconds",
            "When the leader last published its heartbeat (Unix time).",
        )
        if panel["leader_last_tick_at"]:
            tick.add_metric([], _timestamp(panel["leader_last_tick_at"]))
        success = GaugeMetricFamily(
            "ops_job_last_success_timestamp_seconds",
            "When each periodic job last succeeded (Unix time; absent: never).",
            labels=["job"],
        )
        late = GaugeMetricFamily("ops_job_late", "1 when a periodic job is late.", labels=["job"])
        for job in panel["jobs"]:
            if job["last_success_at"]:
                success.add_metric([job["name"]], _timestamp(job["last_success_at"]))
            late.add_metric([job["name"]], 1 if job["late"] else 0)
        return [leader, has_leader, tick, success, late]

    def _backups(self):
        panel = snapshot.backups()
        newest_time = GaugeMetricFamily(
            "ops_backup_newest_timestamp_seconds", "When the newest good backup finished (Unix time)."
        )
        newest_size = GaugeMetricFamily(
            "ops_backup_newest_size_bytes", "Stored size of the newest good backup."
        )
        if panel["newest"]:
            newest_time.add_metric([], _timestamp(panel["newest"]["at"]))
            newest_size.add_metric([], panel["newest"]["stored_size"] or 0)
        drill = GaugeMetricFamily(
            "ops_backup_drill_passed", "1 when the newest restore drill passed, 0 when it failed."
        )
        rto = GaugeMetricFamily("ops_backup_drill_rto_seconds", "Recovery time measured by the newest drill.")
        if panel["drill"]:
            drill.add_metric([], 1 if panel["drill"]["status"] == "passed" else 0)
            rto.add_metric([], panel["drill"]["rto_seconds"])
        storage = GaugeMetricFamily("ops_backup_storage_bytes", "Stored size of all good backups.")
        storage.add_metric([], panel["storage_bytes"])
        return [newest_time, newest_size, drill, rto, storage]

    def _mail(self):
        from keyvalue import store
        from mailops.models import STORED_COUNTS, MailEvent

        events = CounterMetricFamily(
            "ops_mail_events",
            "Mail events stored, by type (webhooks and the send task), since the shared store began.",
            labels=["type"],
        )
        counts = store().counts(STORED_COUNTS)[0]
        for event_type in MailEvent.Type.values:
            events.add_metric([event_type], counts.get(event_type, 0))
        return [events]

    def _realtime(self):
        panel = snapshot.realtime()
        connections = GaugeMetricFamily(
            "ops_websocket_connections", "Open websocket connections, all processes."
        )
        connections.add_metric([], panel["connections"])
        dropped = CounterMetricFamily(
            "ops_websocket_dropped_messages",
            "Messages dropped to bound memory, by reason, all websocket processes (trails one layer check).",
            labels=["reason"],
        )
        for reason, count in sorted(panel["dropped"].items()):
            dropped.add_metric([reason], count)
        return [connections, dropped]


def registry() -> CollectorRegistry:
    """A registry of its own: only the ops families, not this process's default collectors."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(OpsCollector())
    return reg
