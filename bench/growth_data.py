"""The data bench/growth.py measures against: made with bulk inserts, scaled, kept between runs.

At scale 1: 1,000,000 MailEvents, 100,000 FailedJobs, 50,000 tickets, 24 h of ops history
(queue samples, job runs, audit entries, alerts). Rows the nightly jobs delete (past their
retention) are topped up before every run, so the cleanup and retention figures always have
the same work to do; everything else is made once and reused while its count is right.
Runs inside a process whose Django settings point at the bench's database.

Making the full data is CPU-bound, and most of that CPU is Django building each INSERT (about
75 us a mail event, the server about 50 us more): 1.15M rows took 152 s on a quiet machine and
about 12 minutes at load 12. So large tables are made in chunks by forked processes, a few at
once (WORKERS): on a quiet machine they use both cores, on a loaded one each gets its share of
the CPU. Every chunk is bulk_create in batches of BATCH rows, one transaction a batch.
"""

from __future__ import annotations

import multiprocessing
import random
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

BATCH = 5000
CHUNK = 50_000  # rows a forked process makes at a time
PARALLEL_FROM = 100_000  # fewer rows to make than this: made in this process
WORKERS = 6
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


def _chunk(job: tuple) -> int:
    """Make rows `first`..`last` (of `count`) of one table; run in a forked process."""
    from django.db import connections

    kind, first, last, count, prefix, start, span = job
    try:
        return _bulk(model(kind), ROWS[kind](range(first, last), count, prefix, start, span))
    finally:
        connections.close_all()


def _make_all(jobs: list[tuple], rows: int) -> int:
    """Every (kind, first, last, count, prefix, start, span) job: in forked processes if large."""
    if rows < PARALLEL_FROM:
        return sum(_chunk(job) for job in jobs)
    from django.db import connections

    connections.close_all()  # the children open their own: a connection is not shared
    with multiprocessing.get_context("fork").Pool(WORKERS) as pool:
        return sum(pool.imap_unordered(_chunk, jobs))


def _jobs(kind: str, count: int, prefix: str, start, span: timedelta) -> list[tuple]:
    return [
        (kind, first, min(first + CHUNK, count), count, prefix, start, span)
        for first in range(0, count, CHUNK)
    ]


def operator():
    """The superuser the measured requests run as, in the `ops-admin` group."""
    user, _ = get_user_model().objects.get_or_create(
        username="bench-operator", defaults={"is_staff": True, "is_superuser": True}
    )
    group, _ = Group.objects.get_or_create(name="ops-admin")
    user.groups.add(group)
    return user


def _mail_events(numbers: range, count: int, prefix: str, start, span: timedelta):
    from mailops.models import MailEvent

    types = ["delivered"] * 8 + ["opened", "failed", "bounced", "complained"]
    for number in numbers:
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


def _failed_jobs(numbers: range, count: int, prefix: str, start, span: timedelta):
    FailedJob = model("FailedJob")

    for number in numbers:
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


def _tickets(numbers: range, count: int, requester: str, now, span: timedelta):
    from helpdesk.models import Ticket

    requester = get_user_model().objects.get(username=requester)
    statuses = ["open", "pending", "solved", "closed"]
    for number in numbers:
        created = now - span * (1 - number / count)
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


ROWS = {"MailEvent": _mail_events, "FailedJob": _failed_jobs, "Ticket": _tickets}


def _history(scale: float, now, user, floor: int):
    """24 h of queue samples (HISTORY_QUEUES at every scale), job runs, audit entries and alerts
    (scaled)."""
    from audit.models import AuditEntry
    from operations.models import QueueSample

    Alert, JobRun = model("Alert"), model("JobRun")

    QueueSample.objects.all().delete()  # the compaction job folds them: start from the same 24 h
    step = settings.OPS_HISTORY_SAMPLE_SECONDS
    minutes = int(86400 / step)
    # As many queues at every scale: the history is 24 h of each queue (OPS_HISTORY_RETENTION
    # bounds it), a deployment's shape that does not grow with its mail, jobs and tickets.
    queues = HISTORY_QUEUES
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

    # Each table's rows: all of it when its count is wrong, else only the top-up past retention
    # (deleted by every run of the nightly jobs, so made again each time).
    jobs = []
    if MailEvent.objects.filter(event_id__startswith="recent-").count() != recent["mail_events"]:
        MailEvent.objects.all().delete()
        log(f"making {recent['mail_events']} mail events")
        jobs += _jobs("MailEvent", recent["mail_events"], "recent", now - mail_keep / 2, mail_keep / 2)
    if FailedJob.objects.filter(task_id__startswith="recent-").count() != recent["failed_jobs"]:
        FailedJob.objects.all().delete()
        log(f"making {recent['failed_jobs']} failed jobs")
        jobs += _jobs("FailedJob", recent["failed_jobs"], "recent", now - failed_keep / 2, failed_keep / 2)
    if Ticket.objects.count() != wanted["tickets"]:
        Ticket.objects.all().delete()
        log(f"making {wanted['tickets']} tickets")
        jobs += _jobs("Ticket", wanted["tickets"], user.username, now, timedelta(days=30))
    stamp = now.strftime("%Y%m%d%H%M%S")
    old_mail = old["mail_events"] - MailEvent.objects.filter(occurred_at__lt=now - mail_keep).count()
    jobs += _jobs("MailEvent", max(0, old_mail), f"old-{stamp}", now - mail_keep * 2, mail_keep / 2)
    old_failed = old["failed_jobs"] - FailedJob.objects.filter(failed_at__lt=now - failed_keep).count()
    jobs += _jobs("FailedJob", max(0, old_failed), f"old-{stamp}", now - failed_keep * 2, failed_keep / 2)
    jobs.sort(key=lambda job: job[1] - job[2])  # the longest first: the pool ends together
    _make_all(jobs, sum(job[2] - job[1] for job in jobs))
    _history(scale, now, user, floor)
    return {
        "mail_events": MailEvent.objects.count(),
        "failed_jobs": FailedJob.objects.count(),
        "tickets": Ticket.objects.count(),
    }
