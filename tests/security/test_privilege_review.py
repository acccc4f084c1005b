"""A review's attacks on the admin, dashboard and ops API over real HTTP: the search as a secret
oracle, POSTs without a CSRF token, a schedule changed behind its task's back, a run that did not
happen audited as ok, rights granted without a trace, a flush with forget's permission, and
records deleted instead of resolved."""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from alerts.models import Alert
from alerts.notices import raise_alert
from audit.models import AuditEntry
from backups.models import BackupDrill
from mailops.models import Suppression
from queueops.models import FailedJob
from tests.operations.conftest import failed_job, make_user, ops_group_named
from tests.security.sessions import Session, server

pytestmark = pytest.mark.django_db(transaction=True)

DSN_PASSWORD = "dsn-pa55-Zq81"
DAILY = "backups.daily"


@pytest.fixture
def base(tmp_path):
    with server(tmp_path) as url:
        yield url


def test_the_failed_job_admin_search_does_not_answer_for_a_secret_the_page_masks(base):
    # A row stored before masking: the page shows it masked, so its search must not find it by
    # the secret either, or a reader guesses the password one character at a time.
    FailedJob.objects.create(
        task_id="stored-before",
        connection="redis://",
        queue="celery",
        task="tests.queueops.always_fails",
        exception="builtins.ValueError",
        message=f"cannot reach mysql://app:{DSN_PASSWORD}@db.internal/ops",
        traceback=f"Traceback ...\nValueError: mysql://app:{DSN_PASSWORD}@db.internal/ops",
        attempts=3,
    )
    reader = Session(base, make_user("rhea-ops", staff=True, ops_group=True))
    status, page = reader.call("get", "/admin/queueops/failedjob/?q=stored-before")
    assert status == 200 and "1 failed job\n" in page  # the search itself works
    for guess in (DSN_PASSWORD[:4], "app:dsn"):
        status, page = reader.call("get", f"/admin/queueops/failedjob/?q={guess}")
        assert status == 200
        assert "0 failed jobs" in page, guess


class NoCsrf(Session):
    """A hostile page's form post: the victim's session cookie rides along, no CSRF token does."""

    def __init__(self, base, user):
        super().__init__(base, user)
        del self.cookies["csrftoken"]

    def call(self, method, path, body=None, *, form=False, headers=None):
        self.csrf = ""
        return super().call(method, path, body, form=form, headers=headers)


def test_dashboard_and_api_posts_without_a_csrf_token_are_refused(base):
    job = failed_job(1)
    operator = NoCsrf(base, make_user("olga-ops", staff=True, ops_admin=True))
    for button in ("retry", "forget"):
        status, answer = operator.call("post", f"/admin/operations/dashboard/failed/{job.pk}/{button}/")
        assert status == 403, (button, answer)
    status, answer = operator.call("delete", f"/api/ops/failed-jobs/{job.pk}/")
    assert status == 403 and "CSRF" in answer["detail"], answer
    status, answer = operator.call("post", "/api/ops/mail/suppressions/", {"address": "x@example.com"})
    assert status == 403, answer
    assert FailedJob.objects.filter(pk=job.pk).exists()
    assert not Suppression.objects.exists() and not AuditEntry.objects.exists()


def _form_of(page: str) -> dict:
    """The change form's inputs as the browser would post them back."""
    form = {}
    for tag in re.findall(r"<input[^>]*>", page):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or 'type="submit"' in tag:
            continue
        if 'type="checkbox"' in tag:
            if " checked" in tag:
                form[name.group(1)] = "on"
            continue
        value = re.search(r'value="([^"]*)"', tag)
        form[name.group(1)] = html.unescape(value.group(1)) if value else ""
    return form


def test_rescheduling_or_deleting_a_tasks_crontab_in_the_admin_is_audited(base):
    # Editing the crontab behind the daily backup moves it (to 31 February: never) without
    # touching the task; deleting the crontab deletes the task with it.
    call_command("schedule_sync", verbosity=0)
    crontab = PeriodicTask.objects.get(name=DAILY).crontab
    root = Session(base, User.objects.create_superuser("root-admin", "root@example.com", "x"))
    path = f"/admin/django_celery_beat/crontabschedule/{crontab.pk}/change/"
    status, page = root.call("get", path)
    assert status == 200
    form = {**_form_of(page), "day_of_month": "31", "month_of_year": "2", "timezone": "UTC"}
    status, answer = root.call("post", path, form, form=True)
    assert status == 302, answer
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.channel, entry.username) == ("schedule.crontab_change", "admin", "root-admin")
    assert DAILY in entry.detail["tasks"] and "day_of_month" in entry.detail["changed"]
    path = f"/admin/django_celery_beat/crontabschedule/{crontab.pk}/delete/"
    assert root.call("post", path, {"post": "yes"}, form=True)[0] == 302
    assert not PeriodicTask.objects.filter(name=DAILY).exists()
    entry = AuditEntry.objects.get(action="schedule.crontab_delete")
    assert DAILY in entry.detail["tasks"] and entry.remote_addr == "127.0.0.1"


def test_a_reader_finds_the_audit_log_in_the_admin_as_in_the_api_and_cannot_change_it(base):
    # The runbook sends operators to admin > Audit; the ops API shows readers the same rows.
    reader = Session(base, make_user("rhea-ops", staff=True, ops_group=True))
    staff = Session(base, make_user("sam-staff", staff=True))
    entry = AuditEntry.objects.create(username="olga-ops", action="failed_job.forget", target="failed job #7")
    status, listing = reader.call("get", "/api/ops/audit/")
    assert status == 200 and listing["results"][0]["target"] == "failed job #7"
    status, page = reader.call("get", "/admin/audit/auditentry/")
    assert status == 200 and "failed job #7" in page
    assert staff.call("get", "/admin/audit/auditentry/")[0] == 403
    form = {"action": "delete_selected", "_selected_action": [str(entry.pk)], "post": "yes"}
    reader.call("post", "/admin/audit/auditentry/", form, form=True)
    assert (
        reader.call("post", f"/admin/audit/auditentry/{entry.pk}/delete/", {"post": "yes"}, form=True)[0]
        == 403
    )
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_running_a_task_the_admin_cannot_send_is_audited_as_failed_not_ok(base):
    # django-celery-beat's action sends nothing when the task is not registered in the web
    # process (it shows a message); the audit log must not say it ran.
    every_day = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.DAYS)
    gone = PeriodicTask.objects.create(name="gone.job", task="no.such.task", interval=every_day)
    operator = Session(base, make_user("olga-ops", staff=True, ops_admin=True))
    form = {"action": "run_tasks", "_selected_action": [str(gone.pk)], "index": "0"}
    assert operator.call("post", "/admin/django_celery_beat/periodictask/", form, form=True)[0] == 302
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.target, entry.outcome) == ("schedule.run", "gone.job", "failed")
    assert "gone.job" in entry.detail["error"]


def test_granting_ops_admin_in_the_admin_is_audited_with_before_and_after(base):
    # Who may act is decided here: putting a user in ops-admin must leave more than LogEntry.
    root = Session(base, User.objects.create_superuser("root-admin", "root@example.com", "x"))
    sam = make_user("sam-staff", staff=True)
    ops_admin = ops_group_named("ops-admin")
    path = f"/admin/auth/user/{sam.pk}/change/"
    status, page = root.call("get", path)
    assert status == 200
    status, answer = root.call("post", path, {**_form_of(page), "groups": [str(ops_admin.pk)]}, form=True)
    assert status == 302, answer
    assert sam.groups.filter(name="ops-admin").exists()
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.target, entry.username, entry.channel, entry.remote_addr) == (
        "user.rights_change",
        "sam-staff",
        "root-admin",
        "admin",
        "127.0.0.1",
    )
    assert entry.detail == {"groups": {"before": [], "after": ["ops-admin"]}}
    path = f"/admin/auth/group/{ops_admin.pk}/change/"
    status, page = root.call("get", path)
    status, answer = root.call("post", path, {**_form_of(page), "permissions": []}, form=True)
    assert status == 302, answer
    entry = AuditEntry.objects.get(action="group.permissions_change")
    assert entry.target == "ops-admin" and entry.detail["after"] == [] and entry.detail["before"]


def test_forgetting_many_in_the_admin_is_a_flush_and_needs_its_permission(base):
    # audit.rights tells forget (one) from flush (many); "select all" + Forget is a flush.
    jobs = [failed_job(n).pk for n in (1, 2, 3)]
    forgetter = make_user("fern-forget", staff=True)
    forgetter.user_permissions.set(
        Permission.objects.filter(codename__in=["view_operations", "delete_failedjob"])
    )
    session = Session(base, forgetter)
    form = {"action": "forget", "_selected_action": [str(pk) for pk in jobs], "index": "0"}
    assert session.call("post", "/admin/queueops/failedjob/", form, form=True)[0] == 302
    assert FailedJob.objects.count() == 3 and not AuditEntry.objects.exists()
    form["_selected_action"] = [str(jobs[0])]
    assert session.call("post", "/admin/queueops/failedjob/", form, form=True)[0] == 302
    assert FailedJob.objects.count() == 2
    assert list(AuditEntry.objects.values_list("action", "target")) == [
        ("failed_job.forget", "1 failed job(s)")
    ]


def test_not_even_a_superuser_deletes_an_alert_or_a_drill_in_the_admin(base):
    # Deleting an open alert is a resolve, and deleting the latest, failed drill rewrites what
    # the dashboard says, neither audited: the admin offers no delete for these records.
    alert = raise_alert("security.review", "Something is off", source="tests")
    now = timezone.now()
    drill = BackupDrill.objects.create(
        backup_id="b-1", status=BackupDrill.FAILED, started_at=now, finished_at=now, rto_seconds=1.0
    )
    root = Session(base, User.objects.create_superuser("root-admin", "root@example.com", "x"))
    for path, pk in (("/admin/alerts/alert/", alert.pk), ("/admin/backups/backupdrill/", drill.pk)):
        assert root.call("post", f"{path}{pk}/delete/", {"post": "yes"}, form=True)[0] == 403
        form = {"action": "delete_selected", "_selected_action": [str(pk)], "post": "yes"}
        root.call("post", path, form, form=True)
    assert Alert.objects.get(pk=alert.pk).is_open and BackupDrill.objects.filter(pk=drill.pk).exists()
