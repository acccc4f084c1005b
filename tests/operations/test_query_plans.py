"""No operator page, list endpoint, command or nightly job scans a table that grows with use.

Every query the targets of bench/growth.py make is captured (CaptureQueriesContext) against
MariaDB with thousands of rows per large table (made the bench's way, then ANALYZEd so the
optimizer sees them: with a few dozen rows it scans whatever the indexes), and EXPLAINed: a plan
row of type ALL (a full table scan) on a table that can be large fails the test, naming the
query. Small tables (groups, schedules, backups) may be scanned: they stay small; so may the
queue history, which OPS_HISTORY_RETENTION bounds to the 24 h the dashboard's chart reads whole.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench import growth_data
from bench.growth_measure import DEEP, PAGES, cleanup_job, deep_page

SCALE = 0.02  # 20,000 mail events; at least FLOOR rows in every other large table
FLOOR = 2000

pytestmark = pytest.mark.django_db(transaction=True)


def _large_tables() -> set[str]:
    from django.contrib.sessions.models import Session
    from django_celery_results.models import TaskResult

    from audit.models import AuditEntry
    from helpdesk.models import Ticket
    from mailops.models import MailEvent, OutboundMessage

    models = [AuditEntry, Ticket, MailEvent, OutboundMessage, Session, TaskResult]
    models += [growth_data.model(name) for name in ("FailedJob", "Alert", "JobRun")]
    return {model._meta.db_table for model in models}


def _full_scans(sql: str, large: set[str]) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")
        columns = [column[0] for column in cursor.description]
        plan = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    return [
        f"{row['table']} (rows {row['rows']})"
        for row in plan
        if row["type"] == "ALL" and row["table"] in large
    ]


@pytest.fixture
def data(settings):
    if connection.vendor != "mysql":
        pytest.skip("EXPLAIN plans are MariaDB's")
    settings.ALLOWED_HOSTS = ["*"]
    growth_data.make(SCALE, log=lambda line: None, floor=FLOOR)
    with connection.cursor() as cursor:
        for table in sorted(_large_tables()):
            cursor.execute(f"ANALYZE TABLE `{table}`")
            cursor.fetchall()
    client = Client()
    client.force_login(growth_data.operator())
    return client


def _captured(client) -> list[tuple[str, str]]:
    """(target, sql) of every statement the targets make."""
    targets = [(path, path) for path in PAGES]
    targets += [(f"{path} (deep page)", deep_page(client, path)) for path in DEEP]
    found = []
    for name, path in targets:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path, HTTP_ACCEPT="application/json")
        assert response.status_code == 200, f"{path}: {response.status_code}"
        found += [(name, query["sql"]) for query in captured.captured_queries]
    from mailops import retention
    from queueops.management import failed_jobs

    def retry_all_walk():  # what `queue_retry all` reads, without sending anything
        for _ in failed_jobs.in_batches(failed_jobs.select(["all"], queue="default").jobs):
            pass

    for name, run in (
        ("ops_report", lambda: call_command("ops_report", "--format", "json", stdout=io.StringIO())),
        # Every failed job, read in keyset batches: each batch one index range.
        ("queue_failed --json", lambda: call_command("queue_failed", "--json", stdout=io.StringIO())),
        ("queue_retry all", retry_all_walk),
        ("nightly cleanup", cleanup_job()),
        ("mail retention", retention.prune),
    ):
        with CaptureQueriesContext(connection) as captured:
            run()
        found += [(name, query["sql"]) for query in captured.captured_queries]
    return found


def test_no_full_scan_of_a_large_table(data):
    large = _large_tables()
    scans = []
    explained = 0
    for target, sql in _captured(data):
        if not sql.lstrip().upper().startswith(("SELECT", "DELETE", "UPDATE")):
            continue
        explained += 1
        for scan in _full_scans(sql, large):
            scans.append(f"{target}: full scan of {scan}: {sql[:150]} ... {sql[-250:]}")
    assert explained > 50, "too few queries captured: did the targets run?"
    assert not scans, "\n".join(scans)
