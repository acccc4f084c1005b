"""The operations readiness report: the old report's sections, judged from the live system.

Each item is judged from evidence (health checks run now, heartbeats, the schedule and run log,
mail and backup records), never asserted; the deploy files are tests/deploy's business. An item
is ✅ (1 point), ⚠️ (half) or ❌ (none); score = 10 x (points / items), rounded down to one decimal.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

from django.conf import settings
from django.utils import timezone

from health.registry import configured_checks
from health.results import FAIL, PASS, WARN, Result, worst

OK, PARTIAL, MISSING = "ok", "partial", "missing"
MARK = {OK: "✅", PARTIAL: "⚠️", MISSING: "❌"}
POINTS = {OK: 1.0, PARTIAL: 0.5, MISSING: 0.0}
FROM_HEALTH = {PASS: OK, WARN: PARTIAL, FAIL: MISSING}

EXPECTED_COMPONENTS = (
    "database",
    "cache",
    "storage",
    "migrations",
    "queue",
    "scheduler",
    "mail",
    "realtime",
    "backups",
)
WEBHOOK_QUIET_DAYS = 7
BOUNCES_COUNTED = 10_000


@dataclass(frozen=True)
class Item:
    section: str
    name: str
    status: str
    evidence: str

    def as_dict(self) -> dict:
        return {"section": self.section, "item": self.name, "status": self.status, "evidence": self.evidence}


@dataclass
class ReadinessReport:
    items: list[Item] = field(default_factory=list)

    @property
    def score(self) -> float:
        if not self.items:
            return 0.0
        points = sum(POINTS[item.status] for item in self.items)
        return math.floor(100 * points / len(self.items)) / 10

    def gaps(self) -> list[Item]:
        return [item for item in self.items if item.status != OK]

    def as_dict(self) -> dict:
        return {
            "score": self.score,
            "out_of": 10,
            "rule": "10 x (points / items); ok = 1, partial = 0.5, missing = 0",
            "generated_at": timezone.now().isoformat(),
            "items": [item.as_dict() for item in self.items],
            "gaps": [f"{item.section}: {item.name}: {item.evidence}" for item in self.gaps()],
        }

    def as_markdown(self) -> str:
        lines = [
            "# Production Operations Report",
            "",
            f"**Generated:** {timezone.now():%Y-%m-%d %H:%M UTC}",
            "",
        ]
        section = None
        for item in self.items:
            if item.section != section:
                section = item.section
                lines += [
                    "",
                    f"## {section}",
                    "",
                    "| Item | Status | Evidence |",
                    "|------|--------|----------|",
                ]
            evidence = item.evidence.replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {item.name} | {MARK[item.status]} | {evidence} |")
        lines += ["", f"## Operations readiness score: **{self.score:g} / 10**", ""]
        lines.append("Scoring rule: 10 x (points / items), where ✅ = 1, ⚠️ = 0.5, ❌ = 0.")
        gaps = self.gaps()
        if gaps:
            lines += ["", "Gaps:", *[f"- {i.section} / {i.name}: {i.evidence}" for i in gaps]]
        return "\n".join(lines) + "\n"


REPORT_CHECK_SECONDS = 10.0


class Evidence:
    """What the report looks at, gathered lazily and once."""

    @cached_property
    def health(self) -> dict[str, list[Result]]:
        from health.runner import run

        by_component: dict[str, list[Result]] = {}
        # An operator's report, not a probe behind a load balancer: a check slower than
        # HEALTH_TIMEOUT (backups listing its bucket, say) gets the time to give its evidence.
        for result in run(fresh=True, timeout=max(REPORT_CHECK_SECONDS, settings.HEALTH_TIMEOUT)).results:
            by_component.setdefault(result.component, []).append(result)
        return by_component

    @cached_property
    def overall(self) -> str:
        from health.runner import overall

        results = [r for results in self.health.values() for r in results]
        return overall(results, settings.HEALTH_CRITICAL)

    def measurement(self, component: str, measurement: str) -> Result | None:
        return next((r for r in self.health.get(component, []) if r.measurement == measurement), None)

    @cached_property
    def jobs(self) -> dict:
        from scheduler.runlog import job_statuses

        return {status.name: status for status in job_statuses()}


def _component(evidence: Evidence, component: str) -> tuple[str, str]:
    results = evidence.health.get(component)
    if not results:
        return MISSING, f"no `{component}` health check configured"
    status = FROM_HEALTH[worst(r.status for r in results)]
    failing = [f"{r.key}: {r.output or r.status}" for r in results if r.status != PASS]
    return status, "; ".join(failing) or f"`{component}` check passes"


def _absent(evidence: Evidence, component: str) -> tuple[str, str]:
    """The item's measurement is missing: the check is not configured, or it broke."""
    results = evidence.health.get(component)
    if not results:
        return MISSING, f"no `{component}` health check configured"
    return MISSING, "; ".join(f"{r.key}: {r.output or r.status}" for r in results)


def _job(evidence: Evidence, name: str) -> tuple[str, str]:
    status = evidence.jobs.get(name)
    if status is None:
        return MISSING, f"job `{name}` not in the schedule (run schedule_sync)"
    if not status.enabled:
        return MISSING, f"job `{name}` is disabled"
    if status.late:
        return MISSING, f"job `{name}` is late by {status.late_by_seconds} s"
    return OK, f"`{name}` {status.schedule}, last outcome {status.last_outcome or 'not run yet'}"


# --- the items, section by section ----------------------------------------------------------

ItemCheck = Callable[[Evidence], tuple[str, str]]


def _live_workers(evidence: Evidence) -> tuple[str, str]:
    from queueops import heartbeat

    try:
        alive = [w for w in heartbeat.workers() if w.alive]
    except Exception as exc:  # an unreachable store is itself the finding
        return MISSING, f"worker heartbeats unreadable ({type(exc).__name__})"
    if not alive:
        return MISSING, "no live worker: worker down (no fresh heartbeat)"
    return OK, f"{len(alive)} live worker(s): " + ", ".join(sorted(w.hostname for w in alive))


def _retry_policy(evidence: Evidence) -> tuple[str, str]:
    backoff = ",".join(f"{b:g}" for b in settings.QUEUE_BACKOFF)
    if settings.QUEUE_TRIES < 2:
        return PARTIAL, f"QUEUE_TRIES={settings.QUEUE_TRIES}: failures are not retried"
    return OK, f"{settings.QUEUE_TRIES} tries, backoff {backoff} s; PermanentError skips retries"


def _failed_jobs(evidence: Evidence) -> tuple[str, str]:
    from queueops.models import FailedJob

    recent = FailedJob.objects.filter(failed_at__gte=timezone.now() - timedelta(hours=24)).count()
    total = FailedJob.objects.count()
    if recent:
        return PARTIAL, f"{recent} job(s) failed in the last 24 h ({total} kept): `manage.py queue_failed`"
    return OK, f"failed-jobs table in place, {total} kept, none in the last 24 h"


def _backlog_alerts(evidence: Evidence) -> tuple[str, str]:
    if not settings.QUEUE_ALERTS:
        return MISSING, "QUEUE_ALERTS is off: no backlog alert"
    if not (settings.ADMINS or settings.ALERT_WEBHOOK_URL):
        return PARTIAL, "thresholds set but nobody to tell: set ADMINS or ALERT_WEBHOOK_URL"
    status, text = _job(evidence, "queueops.check_backlog")
    if status != OK:
        return status, text
    limits = ", ".join(f"{q} > {n} msgs or > {a:g} s" for q, (n, a) in settings.QUEUE_ALERTS.items())
    return OK, f"alert on {limits}, every minute, with reminders and recovery notices"


def _standbys(evidence: Evidence) -> tuple[str, str]:
    result = evidence.measurement("scheduler", "standbys")
    if result is None:
        return _absent(evidence, "scheduler")
    if not result.observed_value:
        return MISSING, "one beat only: the scheduler is a single point of failure"
    return OK, f"{result.observed_value} standby beat(s) behind the leader"


def _leader(evidence: Evidence) -> tuple[str, str]:
    result = evidence.measurement("scheduler", "leader")
    if result is None:
        return _absent(evidence, "scheduler")
    if result.status != PASS:
        return MISSING, result.output or "no leading beat"
    return OK, f"leader {result.component_id}, heartbeat {result.observed_value} s ago"


def _late_jobs(evidence: Evidence) -> tuple[str, str]:
    result = evidence.measurement("scheduler", "lateJobs")
    if result is None:
        return _absent(evidence, "scheduler")
    if result.status == PASS:
        return OK, f"{len(evidence.jobs)} periodic jobs, none late"
    return FROM_HEALTH[result.status], result.output


def _mail_backend(evidence: Evidence) -> tuple[str, str]:
    if "anymail" not in settings.EMAIL_BACKEND.lower():
        return MISSING, f"mail goes to {settings.EMAIL_BACKEND.rsplit('.', 1)[-1]}, not Mailgun"
    return OK, f"Anymail Mailgun backend, sender domain {settings.MAILGUN_SENDER_DOMAIN}"


def _signing_key(evidence: Evidence) -> tuple[str, str]:
    if not settings.MAILGUN_WEBHOOK_SIGNING_KEY:
        return MISSING, "missing webhook signing key: bounce webhooks cannot be verified"
    return OK, "webhook signing key set; signatures and replays checked"


def _bounces_seen(evidence: Evidence) -> tuple[str, str]:
    from mailops.models import MailEvent, Suppression

    since = timezone.now() - timedelta(days=WEBHOOK_QUIET_DAYS)
    # By event time, which is indexed: received_at is not, and the table holds a year of events.
    events = MailEvent.objects.filter(occurred_at__gte=since).exclude(event_type="suppressed")
    # Counted up to a bound: a busy week holds hundreds of thousands, and the point is "some".
    count = events.values("pk")[: BOUNCES_COUNTED + 1].count()
    suppressed = Suppression.objects.count()
    if not count:
        return (
            PARTIAL,
            f"no webhook event received in {WEBHOOK_QUIET_DAYS} days: is the Mailgun webhook set up?",
        )
    shown = count if count <= BOUNCES_COUNTED else f"over {BOUNCES_COUNTED}"
    return OK, f"{shown} webhook event(s) in {WEBHOOK_QUIET_DAYS} days, {suppressed} address(es) suppressed"


def _drill(evidence: Evidence) -> tuple[str, str]:
    result = evidence.measurement("backups", "drillAge")
    if result is None:
        return _absent(evidence, "backups")
    if result.status == PASS:
        return OK, f"newest passing restore drill {_hours(result.observed_value)} ago"
    return MISSING, result.output or "no passing restore drill"


def _recent_backup(evidence: Evidence) -> tuple[str, str]:
    result = evidence.measurement("backups", "age")
    if result is None:
        return _absent(evidence, "backups")
    if result.status == PASS:
        return OK, f"newest good backup {_hours(result.observed_value)} ago"
    return MISSING, f"no recent backup: {result.output}"


def _offsite(evidence: Evidence) -> tuple[str, str]:
    if not settings.BACKUP_AGE_RECIPIENTS:
        return MISSING, "no BACKUP_AGE_RECIPIENTS: archives would not be encrypted to an off-host key"
    if not settings.BACKUP_S3_BUCKET:
        return PARTIAL, "archives are encrypted but kept on this host (set BACKUP_S3_BUCKET)"
    keys = len(settings.BACKUP_AGE_RECIPIENTS)
    return OK, f"age-encrypted to {keys} key(s), bucket {settings.BACKUP_S3_BUCKET}"


def _backup_jobs(evidence: Evidence) -> tuple[str, str]:
    names = sorted(name for name in evidence.jobs if name.startswith("backups."))
    if not names:
        return MISSING, "no backup job in the schedule"
    for name in names:
        status, text = _job(evidence, name)
        if status != OK:
            return status, text
    return OK, "scheduled: " + ", ".join(f"`{n}` {evidence.jobs[n].schedule}" for n in names)


def _aggregate(evidence: Evidence) -> tuple[str, str]:
    failing = [r.key for results in evidence.health.values() for r in results if r.status == FAIL]
    text = f"/health is {evidence.overall}" + (f"; failing: {', '.join(failing)}" if failing else "")
    return FROM_HEALTH[evidence.overall], text


def _components(evidence: Evidence) -> tuple[str, str]:
    configured = {check.component for check in configured_checks()}
    missing = [c for c in EXPECTED_COMPONENTS if c not in configured]
    if missing:
        return MISSING, "no probe for: " + ", ".join(missing)
    return OK, "/health/<component> for " + ", ".join(EXPECTED_COMPONENTS)


def _details_protected(evidence: Evidence) -> tuple[str, str]:
    if not settings.HEALTH_TOKEN:
        return PARTIAL, "no HEALTH_TOKEN: details only for staff sessions; the deploy gate sees statuses only"
    return OK, "details and ?fresh=1 only with the bearer HEALTH_TOKEN or a staff session"


def _hours(seconds) -> str:
    seconds = int(seconds or 0)
    return f"{seconds // 3600} h {seconds % 3600 // 60} min" if seconds >= 3600 else f"{seconds // 60} min"


SECTIONS: dict[str, list[tuple[str, ItemCheck]]] = {
    "Queue workers": [
        ("Broker and queues", lambda e: _component(e, "queue")),
        ("Live workers", _live_workers),
        ("Retry policy", _retry_policy),
        ("Failed jobs", _failed_jobs),
        ("Backlog alert", _backlog_alerts),
    ],
    "Scheduler": [
        ("Leading beat", _leader),
        ("HA / redundancy", _standbys),
        ("SLA job", lambda e: _job(e, "helpdesk.check_sla")),
        ("Jobs on time", _late_jobs),
    ],
    "Mail (Mailgun)": [
        ("Mailgun backend", _mail_backend),
        ("Webhook signing key", _signing_key),
        ("Bounce handling verified", _bounces_seen),
        ("Mail health", lambda e: _component(e, "mail")),
    ],
    "Realtime": [("Channel layer round trip", lambda e: _component(e, "realtime"))],
    "Backups": [
        ("Recent backup", _recent_backup),
        ("Restore drill", _drill),
        ("Encrypted off-site storage", _offsite),
        ("Backups automated", _backup_jobs),
    ],
    "Health endpoints": [
        ("Aggregate /health", _aggregate),
        ("Component probes", _components),
        ("Details protected", _details_protected),
    ],
}


def build_report() -> ReadinessReport:
    evidence = Evidence()
    report = ReadinessReport()
    for section, checks in SECTIONS.items():
        for name, check in checks:
            try:
                status, text = check(evidence)
            except Exception as exc:  # one unreadable item must not hide the rest
                status, text = MISSING, f"could not be judged: {type(exc).__name__}: {exc}"[:300]
            report.items.append(Item(section, name, status, text))
    return report
