"""What the ops API's actions really do (broker messages, rows, schedules), and how bad input is refused."""

from __future__ import annotations

import base64
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from alerts.notices import raise_alert
from audit.models import AuditEntry
from mailops.models import Suppression
from operations.api.pagination import NewestFirst
from opsproject.celery import app
from queueops.models import FailedJob
from tests.operations.conftest import client_for, failed_job, queue_size
from tests.support.processes import free_port

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_queues")]


@pytest.fixture
def api(operator):
    return client_for(operator)


@contextmanager
def broker_down():
    """Point the Celery app at a port nobody listens on (fresh pools), then back."""
    url = app.conf.broker_url
    app.conf.broker_url = f"redis://127.0.0.1:{free_port()}/0"
    app._pool = None
    app.amqp._producer_pool = None
    try:
        yield
    finally:
        if app._pool is not None:
            app._pool.force_close_all()
        app.conf.broker_url = url
        app._pool = None
        app.amqp._producer_pool = None


def test_retry_hands_the_job_to_the_broker_and_removes_the_row(api):
    job = failed_job(1, args=[12.5])
    response = api.post(f"/api/ops/failed-jobs/{job.pk}/retry/")
    assert response.status_code == 200, response.content
    new_id = response.json()["new_task_id"]
    assert new_id != job.task_id
    assert queue_size("ops_probe") == 1
    assert not FailedJob.objects.exists()
    entry = AuditEntry.objects.get()
    assert entry.detail["new_task_id"] == new_id and entry.detail["task_id"] == job.task_id


def test_a_broker_that_refuses_leaves_the_job_in_place_and_audits_the_failure(api):
    job = failed_job(1)
    with broker_down():
        response = api.post(f"/api/ops/failed-jobs/{job.pk}/retry/")
    assert response.status_code == 503
    assert "not retried" in response.json()["detail"]
    assert FailedJob.objects.filter(pk=job.pk).exists()
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.outcome) == ("failed_job.retry", "failed")
    assert entry.detail["error"].startswith("OperationalError")


def test_a_job_whose_arguments_were_not_stored_is_refused_409_not_503(api):
    """Only the repr of its arguments was kept (queueops.failed.UNSTORABLE): no retry will ever
    send it, so the answer is not 503 + Retry-After, which tells a client to come back."""
    job = failed_job(1, args={"unstorable_repr": "[nan]"}, kwargs={"unstorable_repr": "{}"})

    response = api.post(f"/api/ops/failed-jobs/{job.pk}/retry/")
    assert response.status_code == 409, response.content
    assert "Retry-After" not in response.headers
    assert "send the task again by hand" in response.json()["detail"]
    bulk = api.post("/api/ops/failed-jobs/retry/", {"ids": [job.pk]}, format="json")
    assert bulk.status_code == 200, bulk.content
    assert bulk.json()["failed"] == [{"id": job.pk, "error": "NotReplayable"}]
    assert FailedJob.objects.filter(pk=job.pk).exists() and queue_size("ops_probe") == 0
    assert [entry.outcome for entry in AuditEntry.objects.order_by("pk")] == ["failed", "failed"]


def test_flush_needs_a_selection_and_deletes_only_what_matches(api):
    failed_job(1)
    failed_job(2, queue="ops_a", routing_key="ops_a")
    refused = api.post("/api/ops/failed-jobs/flush/", {}, format="json")
    assert refused.status_code == 400
    assert "all" in refused.json()["non_field_errors"][0]
    assert FailedJob.objects.count() == 2
    flushed = api.post("/api/ops/failed-jobs/flush/", {"queue": "ops_a"}, format="json")
    assert flushed.json()["deleted"] == 1
    assert list(FailedJob.objects.values_list("queue", flat=True)) == ["ops_probe"]
    assert AuditEntry.objects.get().detail == {"deleted": 1, "filters": {"queue": "ops_a", "all": False}}


def test_list_filters(api):
    failed_job(1, exception="builtins.KeyError")
    failed_job(2)
    assert listed(api, "/api/ops/failed-jobs/?exception=keyerror") == 1
    assert listed(api, "/api/ops/failed-jobs/?queue=nowhere") == 0
    assert listed(api, "/api/ops/failed-jobs/?failed_after=2000-01-01T00:00:00Z") == 2
    assert listed(api, "/api/ops/failed-jobs/?failed_before=2000-01-01T00:00:00Z") == 0
    raise_alert("ops.test", "Something is off", source="tests")
    assert listed(api, "/api/ops/alerts/?state=open") == 1
    assert listed(api, "/api/ops/alerts/?state=resolved") == 0
    api.post("/api/ops/mail/suppressions/", {"address": "Bob@Example.com"}, format="json")
    assert api.get("/api/ops/mail/suppressions/?address=BOB@example.com").json()["count"] == 1
    assert listed(api, "/api/ops/audit/?action=suppression.add&username=nobody") == 0
    assert listed(api, "/api/ops/audit/?action=suppression.add") == 1


def test_flush_by_time_forgets_only_the_jobs_in_that_window(api):
    failed_job(1)
    kept = api.post("/api/ops/failed-jobs/flush/", {"failed_before": "2000-01-01T00:00:00Z"}, format="json")
    assert kept.json()["deleted"] == 0
    flushed = api.post("/api/ops/failed-jobs/flush/", {"failed_after": "2000-01-01T00:00:00Z"}, format="json")
    assert flushed.json()["deleted"] == 1
    assert not FailedJob.objects.exists()


def listed(api, path: str) -> int:
    """How many rows a cursor-paged list holds (its first page, which these tests never fill)."""
    answer = api.get(path).json()
    assert answer["next"] is None
    return len(answer["results"])


def test_pages_past_the_end_are_404s(api):
    api.post("/api/ops/mail/suppressions/", {"address": "bob@example.com"}, format="json")
    assert api.get("/api/ops/mail/suppressions/?page=1").json()["count"] == 1
    assert api.get("/api/ops/mail/suppressions/?page=2").status_code == 404


def test_cursor_pages_walk_every_row_once_in_order_and_back(api, monkeypatch):
    monkeypatch.setattr(NewestFirst, "page_size", 4)
    same_moment = timezone.now()
    # Ties on the ordering's first field (failed_at) are paged by offset: none lost or repeated.
    jobs = [failed_job(n, failed_at=same_moment - timedelta(seconds=n // 3)) for n in range(11)]
    expected = [job.pk for job in sorted(jobs, key=lambda job: (job.failed_at, job.pk), reverse=True)]
    seen, link, pages = [], "/api/ops/failed-jobs/", []
    while link:
        page = api.get(link).json()
        assert "count" not in page
        pages.append(page)
        seen += [row["id"] for row in page["results"]]
        link = page["next"]
    assert seen == expected and len(pages) == 3
    back = api.get(pages[-1]["previous"]).json()
    assert [row["id"] for row in back["results"]] == expected[4:8]


@pytest.mark.parametrize(
    "cursor",
    [
        "QQ",  # bad padding
        "é",
        base64.b64encode(b"p=yesterday").decode(),
        base64.b64encode(b"p=9999-12-31 23:59:59-14:00").decode(),
        base64.b64encode(b"p=0001-01-01 00:00:00+01:00").decode(),  # before year 1 in UTC
        base64.b64encode(b"p=2026-01-01T00:00:00+25:00").decode(),
        base64.b64encode(b"p=%00").decode(),
        base64.b64encode(b"p=" + b"9" * 5000).decode(),
        base64.b64encode(b"o=-1").decode(),
    ],
)
def test_a_bad_cursor_is_a_json_404(api, cursor):
    failed_job(1)
    for path in ("/api/ops/failed-jobs/", "/api/ops/mail/events/", "/api/ops/audit/", "/api/ops/alerts/"):
        response = api.get(path, {"cursor": cursor})
        assert response.status_code == 404, (path, cursor)
        assert response.json()["detail"] == "Invalid cursor"


@pytest.mark.parametrize(
    ("method", "path", "payload", "field"),
    [
        ("get", "/api/ops/failed-jobs/?failed_after=yesterday", None, "failed_after"),
        ("get", "/api/ops/failed-jobs/?colour=red", None, "colour"),
        ("get", "/api/ops/failed-jobs/?queue=", None, "queue"),
        # Only blanks is blank too (the form strips them), not an unfiltered list.
        ("get", "/api/ops/failed-jobs/?queue=%20%20", None, "queue"),
        ("get", "/api/ops/mail/events/?recipient=%20", None, "recipient"),
        # Dates that exist, but not once in UTC (the database's time): a 400, not an OverflowError.
        ("get", "/api/ops/failed-jobs/?failed_after=9999-12-31T23:59:59-14:00", None, "failed_after"),
        ("get", "/api/ops/failed-jobs/?failed_before=0001-01-01T00:00:00%2B01:00", None, "failed_before"),
        ("get", "/api/ops/failed-jobs/?task=" + "t" * 256, None, "task"),
        ("get", "/api/ops/failed-jobs/?page=0", None, "page"),
        ("get", "/api/ops/backups/?page=first", None, "page"),
        ("get", "/api/ops/backups/?format=json", None, "format"),
        ("get", "/api/ops/audit/?username=", None, "username"),
        ("get", "/api/ops/alerts/?state=sleeping", None, "state"),
        ("get", "/api/ops/mail/events/?type=exploded", None, "type"),
        ("post", "/api/ops/failed-jobs/retry/", {"ids": ["one"]}, "ids"),
        ("post", "/api/ops/backups/", {"alias": "elsewhere"}, "alias"),
        ("post", "/api/ops/backups/", {"note": "x", "force": True}, "force"),
        ("post", "/api/ops/backups/drills/", {"reference": "b-does-not-exist"}, "reference"),
        ("post", "/api/ops/mail/suppressions/", {"address": "not an address"}, "address"),
        # A valid address longer than the list's 254 (RFC 5321's path), plain or once lower-cased.
        (
            "post",
            "/api/ops/mail/suppressions/",
            {"address": "a" * 64 + "@" + "b" * 60 + ".c" * 90},
            "address",
        ),
        ("post", "/api/ops/mail/suppressions/", {"address": "a@" + ("İ" * 60 + ".") * 3 + "com"}, "address"),
        ("post", "/api/ops/mail/suppressions/", ["a@example.com"], "non_field_errors"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(api, method, path, payload, field):
    failed_job(1)
    response = getattr(api, method)(path, payload, format="json") if payload is not None else api.get(path)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert FailedJob.objects.count() == 1
    assert not Suppression.objects.exists()
    assert not AuditEntry.objects.exists()
    assert queue_size("celery") == 0


def test_unknown_things_are_json_404s(api):
    for path in (
        "/api/ops/failed-jobs/999/",
        "/api/ops/failed-jobs/-1/",
        "/api/ops/schedules/nope/run/",
        "/api/ops/x",
    ):
        response = api.post(path) if path.endswith("run/") else api.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/json"
        assert response.json()["detail"]


def test_schedules_pause_resume_and_run_now(api):
    call_command("schedule_sync", verbosity=0)
    name = "operations.sample_queues"
    assert api.post(f"/api/ops/schedules/{name}/pause/").json() == {"name": name, "enabled": False}
    assert not PeriodicTask.objects.get(name=name).enabled
    assert api.get(f"/api/ops/schedules/{name}/").json()["enabled"] is False
    assert api.post(f"/api/ops/schedules/{name}/resume/").json()["enabled"] is True
    assert PeriodicTask.objects.get(name=name).enabled
    ran = api.post(f"/api/ops/schedules/{name}/run/")
    assert ran.status_code == 200 and ran.json()["task"] == "operations.sample_queues"
    assert queue_size("celery") == 1
    assert list(AuditEntry.objects.order_by("id").values_list("action", flat=True)) == [
        "schedule.pause",
        "schedule.resume",
        "schedule.run",
    ]


def test_suppressions_are_added_once_whatever_the_case_and_removed(api):
    first = api.post("/api/ops/mail/suppressions/", {"address": "Bob@Example.com"}, format="json")
    again = api.post("/api/ops/mail/suppressions/", {"address": "bob@example.COM"}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert Suppression.objects.get().reason == "manual"
    row_id = first.json()["id"]
    assert api.delete(f"/api/ops/mail/suppressions/{row_id}/").status_code == 200
    assert not Suppression.objects.exists()
    assert [e.detail.get("created") for e in AuditEntry.objects.order_by("id")][:2] == [True, False]


def test_starting_a_backup_sends_the_task(api):
    response = api.post("/api/ops/backups/", {"note": "before the upgrade"}, format="json")
    assert response.status_code == 202
    assert response.json()["alias"] == "default"
    assert queue_size("celery") == 1
    assert AuditEntry.objects.get().detail["note"] == "before the upgrade"


def test_action_routes_take_only_their_method(api):
    call_command("schedule_sync", verbosity=0)
    job = failed_job(1)
    assert api.delete(f"/api/ops/failed-jobs/{job.pk}/retry/").status_code == 405
    assert api.get(f"/api/ops/failed-jobs/{job.pk}/retry/").status_code == 405
    assert api.get("/api/ops/schedules/operations.sample_queues/pause/").status_code == 405
    assert api.post("/api/ops/failed-jobs/").status_code == 405
    assert FailedJob.objects.filter(pk=job.pk).exists()
    assert not AuditEntry.objects.exists()


def test_a_drill_goes_to_the_restore_queue_where_only_the_drill_worker_listens(api):
    """Ordinary workers hold no age identity: the drill must wait for the one that does."""
    from tests.queueops.conftest import purge

    purge("restore")
    try:
        response = api.post("/api/ops/backups/drills/", {"reference": "latest"}, format="json")
        assert response.status_code == 202, response.content
        assert queue_size("restore") == 1 and queue_size("celery") == 0
    finally:
        purge("restore")
    # Beat sends the weekly drill by the same route (task_routes, not a per-call queue).
    assert app.amqp.router.route({}, "backups.drill", (), {})["queue"].name == "restore"
