"""The demo day: what `manage.py demo` loads so every panel, the ops API and ops_report show content.

A small helpdesk's day written through the apps' own services (helpdesk/demo.py, ops_day, a real
backup with a passing drill); `steps()` lists the parts for progress, `remove()` takes the demo's
rows out again (backups stay: they are real backups of the database).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from django.apps import apps
from django.db import transaction
from django.utils import timezone

from operations.demo import ops_day

Step = tuple[str, Callable[[], object]]


def parts() -> list:
    """The `demo` module of each installed app, in app order: found through the app registry,
    as the periodic jobs are, since operations may not import helpdesk."""
    found = []
    for config in apps.get_app_configs():
        if config.name == "operations":
            continue
        try:
            found.append(importlib.import_module(f"{config.name}.demo"))
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.demo":
                raise
    return found


def loaded() -> bool:
    return any(part.loaded() for part in parts())


def holds_own_data() -> bool:
    """Someone's own data is in the database (a ticket the demo did not write): never offer it."""
    return any(part.holds_own_data() for part in parts())


def steps() -> list[Step]:
    """The parts of the day in load order, each (label, function); times are relative to now."""
    now = timezone.now()

    def schedule():
        from scheduler.periodic import registered_jobs
        from scheduler.sync import sync_jobs

        sync_jobs(registered_jobs())
        return ops_day.job_runs(now)

    def history():
        from queueops.broker import known_queues

        return ops_day.queue_history(now, known_queues())

    own = [(part.LABEL, transaction.atomic(lambda part=part: part.load(now))) for part in parts()]
    return [
        *own,
        ("scheduler runs", transaction.atomic(schedule)),
        ("queue history", history),
        ("task outcomes", lambda: ops_day.task_outcomes(now)),
        ("failed job", lambda: ops_day.failed_job(now)),
        ("alerts", ops_day.alerts),
        ("mail", transaction.atomic(lambda: ops_day.mail(now))),
        ("backup", backup),
        ("restore drill", drill),
    ]


def backup():
    from backups.runner import run_backup

    return run_backup(note="demo: the day's backup")


def drill():
    from backups.drill import run_drill

    result = run_drill("latest")
    if result.status != result.PASSED:
        raise RuntimeError(f"the restore drill of {result.backup_id} failed: {result.detail}")
    return result


@transaction.atomic
def remove() -> dict[str, int]:
    """Delete every row the demo wrote (backups aside); returns what went, by kind."""
    from alerts.models import Alert
    from audit.models import AuditEntry
    from mailops.models import MailEvent, OutboundMessage, Suppression
    from queueops.models import FailedJob
    from scheduler.models import JobRun

    prefix = ops_day.PREFIX
    return {
        **{part.LABEL: part.remove() for part in parts()},
        "failed jobs": FailedJob.objects.filter(task_id__startswith=prefix).delete()[0],
        "job runs": JobRun.objects.filter(task_id__startswith=prefix).delete()[0],
        "alerts": Alert.objects.filter(key__startswith=ops_day.ALERT_PREFIX).delete()[0],
        "audit entries": AuditEntry.objects.filter(target__startswith=ops_day.ALERT_PREFIX).delete()[0],
        "mail events": MailEvent.objects.filter(event_id__startswith=prefix).delete()[0],
        "suppressions": Suppression.objects.filter(address_key__endswith=f"@{ops_day.DOMAIN}").delete()[0],
        "messages": OutboundMessage.objects.filter(message_id__startswith=f"<{prefix}").delete()[0],
    }
