"""The data bench/growth.py measures against: made with bulk inserts, scaled, kept between runs.

At scale 1: 1,000,000 MailEvents, 100,000 FailedJobs, 50,000 tickets, 24 h of ops history
(queue samples, job runs, audit entries, alerts). Rows the nightly jobs delete (past their
retention) are topped up before every run, so the cleanup and retention figures always have
the same work to do; everything else is made once and reused while its count is right.
Runs inside a process whose Django settings point at the bench's database.
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

BATCH = 5000
FULL = {"mail_events": 1_000_000, "failed_jobs": 100_000, "tickets": 50_000}
HISTORY_QUEUES = 10
OLD_SHARE = 0.05  # of each table, past its retention: what cleanup and retention delete
TRACEBACK = "Traceback (most recent call last):\n" + '  File "app/tasks.py", line 42, in run\n' * 20


def model(name: str):
    """A model by class name, wherever it lives (apps move models between them)."""
    return next(found for found in apps.get_models() if found.__name__ == name)


def counts(scale: float, floor: int = 10) -> dict[str, int]:
    return {name: max(floor, int(value * scale)) for name, value in FULL.items()}


def _bulk(model, rows) -> int:
    made, batch = 0, []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            with transaction.atomic():
                model.objects.bulk_create(batch)
            made += len(batch)
            batch = []
    if batch:
        with transaction.atomic():
            model.objects.bulk_create(batch)
        made += len(batch)
    return made


def operator():
    """The superuser the measured requests run as, in the `ops-admin` group."""
    user, _ = get_user_model().objects.get_or_create(
        username="bench-operator", defaults={"is_staff": True, "is_superuser": True}
    )
    group, _ = Group.objects.get_or_create(name="ops-admin")
    user.groups.add(group)
    return user


def _mail_events(count: int, prefix: str, start, span: timedelta):
    from mailops.models import MailEvent

    types = ["delivered"] * 8 + ["opened", "failed", "bounced", "complained"]
    for number in range(count):
        recipient = f"user{number % 20000}@example.test"
        yield MailEvent(
            event_id=f"{prefix}-{number}",
            event_type=types[number % len(types)],
            esp_event="delivered",
            recipient=recipient,
            recipient_key=recipient,
            message_id=f"<{number}@mail.example.test>",
            occurred_at=start + span * (number / count),
            received_at=start + span * (number / count),
            payload={"event": "delivered", "n": number},
        )


def _failed_jobs(count: int, prefix: str, start, span: timedelta):
    FailedJob = model("FailedJob")

    for number in range(count):
        yield FailedJob(
            task_id=f"{prefix}-{number}",
            connection="redis://127.0.0.1:6379/10",
            queue=("default", "mail", "backups")[number % 3],
            task=("mailops.send", "helpdesk.notify", "backups.run")[number % 3],
            args=[number],
            kwargs={"ticket": number},
            exception="builtins.RuntimeError",
            message=f"failure {number}",
            traceback=TRACEBACK,
            attempts=5,
            worker="celery@bench",
            failed_at=start + span * (number / count),
        )


def _tickets(count: int, requester, now):
    from helpdesk.models import Ticket

    statuses = ["open", "pending", "solved", "closed"]
    for number in range(count):
        created = now - timedelta(days=30) * (1 - number / count)
        yield Ticket(
            subject=f"Ticket {number}",
            description="printer on fire",
            status=statuses[number % 4],
            priority=("low", "normal", "high", "urgent")[number % 4],
            requester=requester,
            created_at=created,
            sla_first_response_due_at=created + timedelta(hours=4),
            sla_resolution_due_at=created + timedelta(days=2),
            sla_breached_at=created + timedelta(hours=4) if number % 10 == 0 else None,
            sla_breach_kind="first_response" if number % 10 == 0 else "",
        )


def _history(scale: float, now, user, floor: int):
    """24 h of queue samples, job runs, audit entries and alerts, scaled."""
    from audit.models import AuditEntry
    from operations.models import QueueSample

    Alert, JobRun = model("Alert"), model("JobRun")

    QueueSample.objects.all().delete()  # the compaction job folds them: start from the same 24 h
    step = settings.OPS_HISTORY_SAMPLE_SECONDS
    minutes = int(86400 / step)
    queues = max(1, int(HISTORY_QUEUES * scale)) if scale < 1 else HISTORY_QUEUES
    _bulk(
        QueueSample,
        (
            QueueSample(
                queue=f"queue{queue}",
                at=now - timedelta(seconds=step * minute),
                resolution=step,
                size=random.randrange(100),
                oldest_wait=random.random() * 30,
            )
            for queue in range(queues)
            for minute in range(minutes)
        ),
    )
    if not JobRun.objects.exists():
        runs = max(floor, int(20_000 * scale))
        _bulk(
            JobRun,
            (
                JobRun(
                    job=f"job{number % 8}",
                    task_id=f"run-{number}",
                    started_at=now - timedelta(days=1) * (number / runs),
                    finished_at=now - timedelta(days=1) * (number / runs),
                    outcome="success" if number % 50 else "failure",
                    duration_ms=120,
                    worker="celery@bench",
                )
                for number in range(runs)
            ),
        )
        entries = max(floor, int(20_000 * scale))
        _bulk(
            AuditEntry,
            (
                AuditEntry(
                    at=now - timedelta(days=1) * (number / entries),
                    user=user,
                    username=user.username,
                    action="failed_job.retry",
                    target=f"failed job #{number}",
                    detail={"n": number},
                )
                for number in range(entries)
            ),
        )
        alerts = max(floor, int(2_000 * scale))
        _bulk(
            Alert,
            (
                Alert(
                    key=f"bench.alert.{number}",
                    summary="backlog over limit",
                    opened_at=now - timedelta(days=1) * (number / alerts),
                    last_seen_at=now,
                    resolved_at=now if number % 20 else None,
                    open_key=None if number % 20 else f"bench.alert.{number}",
                )
                for number in range(alerts)
            ),
        )


def make(scale: float, log=print, floor: int = 10) -> dict[str, int]:
    """Make (or top up) the data at `scale`, at least `floor` rows a table; the row counts."""
    from helpdesk.models import Ticket
    from mailops.models import MailEvent

    FailedJob = model("FailedJob")
    now = timezone.now()
    user = operator()
    wanted = counts(scale, floor)
    mail_keep = timedelta(days=settings.MAIL_RETENTION_DAYS)
    failed_keep = timedelta(days=settings.QUEUE_FAILED_RETENTION_DAYS)
    old = {name: int(value * OLD_SHARE) for name, value in wanted.items()}
    recent = {name: wanted[name] - old.get(name, 0) for name in wanted}

    mail_recent = MailEvent.objects.filter(event_id__startswith="recent-").count()
    if mail_recent != recent["mail_events"]:
        MailEvent.objects.all().delete()
        log(f"making {recent['mail_events']} mail events")
        _bulk(MailEvent, _mail_events(recent["mail_events"], "recent", now - mail_keep / 2, mail_keep / 2))
    failed_recent = FailedJob.objects.filter(task_id__startswith="recent-").count()
    if failed_recent != recent["failed_jobs"]:
        FailedJob.objects.all().delete()
        log(f"making {recent['failed_jobs']} failed jobs")
        _bulk(
            FailedJob, _failed_jobs(recent["failed_jobs"], "recent", now - failed_keep / 2, failed_keep / 2)
        )
    if Ticket.objects.count() != wanted["tickets"]:
        Ticket.objects.all().delete()
        log(f"making {wanted['tickets']} tickets")
        _bulk(Ticket, _tickets(wanted["tickets"], user, now))

    # Past retention: deleted by every run of the nightly jobs, so made again each time.
    stamp = now.strftime("%Y%m%d%H%M%S")
    old_mail = old["mail_events"] - MailEvent.objects.filter(occurred_at__lt=now - mail_keep).count()
    _bulk(MailEvent, _mail_events(max(0, old_mail), f"old-{stamp}", now - mail_keep * 2, mail_keep / 2))
    old_failed = old["failed_jobs"] - FailedJob.objects.filter(failed_at__lt=now - failed_keep).count()
    _bulk(FailedJob, _failed_jobs(max(0, old_failed), f"old-{stamp}", now - failed_keep * 2, failed_keep / 2))
    _history(scale, now, user, floor)
    return {
        "mail_events": MailEvent.objects.count(),
        "failed_jobs": FailedJob.objects.count(),
        "tickets": Ticket.objects.count(),
    }
