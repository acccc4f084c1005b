"""The demo's operations: 24 h of queue history and job runs, task outcomes, a failed job, alerts, mail.

Written through each app's models and public functions (a bounce suppresses by the real rule),
with times spread over the past day.
"""

from __future__ import annotations

import math
import uuid
from datetime import timedelta

from anymail.signals import AnymailTrackingEvent
from django.conf import settings

from alerts.models import Alert
from alerts.notices import raise_alert, resolve_alert
from audit.models import AuditEntry
from mailops import recording
from mailops.models import OutboundMessage
from operations import outcomes
from operations.models import QueueSample
from queueops.models import FailedJob
from scheduler.models import JobRun, ManagedJob

PREFIX = "demo-"
ALERT_PREFIX = "demo:"

# The demo people's mail domain, frozen here as in helpdesk/demo.py (operations imports no
# helpdesk module); tests/operations/test_demo_parts.py keeps the two equal.
DOMAIN = "demo.example.com"
NO_SUCH_ACCOUNT = "550 5.1.1 The email account that you tried to reach does not exist"


def _load(hour: float) -> float:
    """0..1: how busy the helpdesk is at `hour` of the day (a working day's two humps)."""
    return max(0.0, math.sin(math.pi * (hour - 7) / 11)) * (1.0 - 0.3 * math.exp(-((hour - 12.5) ** 2)))


def queue_history(now, queues: list[str]) -> int:
    """A day of samples per queue, in the buckets and fine samples history.compact leaves."""
    bucket = settings.OPS_HISTORY_BUCKET_SECONDS
    fine = settings.OPS_HISTORY_SAMPLE_SECONDS
    raw_span = settings.OPS_HISTORY_RAW_SECONDS
    start = now - timedelta(seconds=settings.OPS_HISTORY_RETENTION)
    rows = []
    for scale, queue in enumerate(queues, start=1):
        at = start.replace(second=0, microsecond=0)
        while at <= now:
            recent = (now - at).total_seconds() < raw_span
            busy = _load(at.hour + at.minute / 60)
            size = round(40 * busy / scale + 3 * math.sin(at.minute / 5 + scale) ** 2)
            rows.append(
                QueueSample(
                    queue=queue,
                    at=at,
                    resolution=fine if recent else bucket,
                    size=size,
                    oldest_wait=round(2.0 + 90 * busy / scale, 1) if size else None,
                    samples=1 if recent else bucket // fine,
                )
            )
            at += timedelta(seconds=fine if recent else bucket)
    # Real samples already taken for a minute win: the demo only fills the gaps.
    QueueSample.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def task_outcomes(now) -> None:
    """The last hour's task outcomes, in the counters the workers keep (outcomes.count)."""
    for minute in range(60):
        at = now.timestamp() - 60 * minute
        for _ in range(3 + minute % 4):
            outcomes.count("mailops.send_message", outcomes.SUCCESS, at=at)
        if minute % 7 == 0:
            outcomes.count("helpdesk.check_sla", outcomes.SUCCESS, at=at)
        if minute % 13 == 0:
            outcomes.count("mailops.send_message", outcomes.RETRY, at=at)
    outcomes.count("backups.run_backup", outcomes.FAILURE, at=now.timestamp() - 1800)


def job_runs(now) -> int:
    """Each periodic job's runs over the day; the newest run of one of them failed."""
    runs = []
    for order, job in enumerate(ManagedJob.objects.filter(in_code=True)):
        period = max(job.period_seconds, 60)
        count = min(int(24 * 3600 // period), 48)
        for index in range(count, 0, -1):
            started = now - timedelta(seconds=period * index)
            failed = order == 0 and index == 1  # the newest run of the first job
            runs.append(
                JobRun(
                    job=job.name,
                    task_id=f"{PREFIX}{uuid.uuid4()}",
                    started_at=started,
                    finished_at=started + timedelta(milliseconds=180 + 40 * (index % 5)),
                    outcome=JobRun.FAILURE if failed else JobRun.SUCCESS,
                    duration_ms=180 + 40 * (index % 5),
                    worker="worker@demo",
                    error="OperationalError: database is locked" if failed else "",
                )
            )
    JobRun.objects.bulk_create(runs)
    return len(runs)


def failed_job(now) -> FailedJob:
    """A mail send that ran out of attempts against a refusing SMTP relay."""
    return FailedJob.objects.create(
        task_id=f"{PREFIX}{uuid.uuid4()}",
        connection="filesystem://",
        queue="celery",
        routing_key="celery",
        task="mailops.send_message",
        args=[],
        kwargs={"outbound_id": 0},
        exception="anymail.exceptions.AnymailRequestsAPIError",
        message="Mailgun API response 503 (Service Unavailable): try again later",
        traceback=(
            "Traceback (most recent call last):\n  ...\nanymail.exceptions.AnymailRequestsAPIError: 503"
        ),
        attempts=settings.QUEUE_TRIES,
        worker="worker@demo",
        failed_at=now - timedelta(minutes=42),
    )


def alerts() -> None:
    """One alert an operator resolved from the dashboard (audited as the dashboard does), one open."""
    backlog, bounces = f"{ALERT_PREFIX}queue:celery:backlog", f"{ALERT_PREFIX}mail:bounce-rate"
    demo = {"source": "demo", "severity": Alert.WARNING}
    raise_alert(backlog, "Queue celery: 212 waiting (over 200) at the morning peak", **demo)
    resolve_alert(backlog)
    AuditEntry.objects.create(
        username="demo-grace",
        action="alert.resolve",
        target=backlog,
        detail={"key": backlog, "resolved": True},
        channel=AuditEntry.DASHBOARD,
        remote_addr="127.0.0.1",
    )
    raise_alert(bounces, "Mail: a bounce to a requester's address; it is suppressed now", **demo)


MESSAGES = [
    ("mia", "Re: Cannot reset my password", ["delivered", "opened"]),
    ("tom", "Re: Invoice 2026-114 shows the wrong VAT number", ["delivered"]),
    ("omar", "Re: How do I add a colleague to my ticket?", ["delivered", "opened", "clicked"]),
    ("lena", "Your ticket: Export to CSV times out", ["deferred", "delivered"]),
    ("former.employee", "Your ticket was updated", ["bounced"]),
]


def mail(now) -> int:
    """Sent notifications and what Mailgun reported about them, one hard bounce among them."""
    stored = 0
    for index, (who, subject, events) in enumerate(MESSAGES):
        address = f"{who}@{DOMAIN}"
        sent_at = now - timedelta(hours=18 - 3 * index)
        message = OutboundMessage.objects.create(
            kind="helpdesk.notification",
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[address],
            recipients=[address],
            subject=subject,
            body=f"{subject}\n\nSee the ticket in the helpdesk.",
            status=OutboundMessage.Status.SENT,
            message_id=f"<{PREFIX}{uuid.uuid4().hex}@{DOMAIN}>",
            attempts=1,
            created_at=sent_at,
            sent_at=sent_at,
        )
        for step, event_type in enumerate(events, start=1):
            bounced = event_type == "bounced"
            event = AnymailTrackingEvent(
                event_type=event_type,
                timestamp=sent_at + timedelta(minutes=2 * step),
                event_id=f"{PREFIX}{uuid.uuid4()}",
                message_id=message.message_id,
                recipient=address,
                reject_reason="bounced" if bounced else None,
                description="No such user here" if bounced else "",
                mta_response=NO_SUCH_ACCOUNT if bounced else "",
                metadata={recording.OUTBOUND_ID: message.pk},
                esp_event={"event-data": {"event": "failed" if bounced else event_type, "demo": True}},
            )
            _, new = recording.store(recording.fields_of(event))
            stored += new
    return stored
