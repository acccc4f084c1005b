"""Staff is not operator: every operator action, through the API, the dashboard and the admin, is
refused (403, nothing changed, nothing audited) to a user who lacks its permission; over real HTTP."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from alerts.models import Alert
from alerts.notices import raise_alert
from audit import rights
from audit.models import AuditEntry
from mailops.models import Suppression
from queueops.models import FailedJob
from tests.operations.conftest import failed_job, make_user
from tests.security.sessions import Session, server

pytestmark = pytest.mark.django_db(transaction=True)

DAILY = "backups.daily"


@pytest.fixture
def base(tmp_path):
    with server(tmp_path) as url:
        yield url


@pytest.fixture
def world(db):
    call_command("schedule_sync", verbosity=0)
    job = failed_job(1)
    alert = raise_alert("security.test", "Something is off", source="tests")
    row = Suppression.objects.create(address="kept@example.com", reason="manual", source="operator")
    return {"job": job.pk, "alert": alert.pk, "suppression": row.pk}


def api_actions(w: dict) -> list[tuple[str, str, dict | None, str]]:
    return [
        ("post", f"/api/ops/failed-jobs/{w['job']}/retry/", None, "failed_job.retry"),
        ("delete", f"/api/ops/failed-jobs/{w['job']}/", None, "failed_job.forget"),
        ("post", "/api/ops/failed-jobs/retry/", {"all": True}, "failed_job.retry_many"),
        ("post", "/api/ops/failed-jobs/flush/", {"all": True}, "failed_job.flush"),
        ("post", f"/api/ops/alerts/{w['alert']}/resolve/", None, "alert.resolve"),
        ("post", f"/api/ops/schedules/{DAILY}/run/", None, "schedule.run"),
        ("post", f"/api/ops/schedules/{DAILY}/pause/", None, "schedule.pause"),
        ("post", f"/api/ops/schedules/{DAILY}/resume/", None, "schedule.resume"),
        ("post", "/api/ops/backups/", {"note": "x"}, "backup.start"),
        ("post", "/api/ops/backups/drills/", {}, "backup.drill"),
        ("post", "/api/ops/mail/suppressions/", {"address": "new@example.com"}, "suppression.add"),
        ("delete", f"/api/ops/mail/suppressions/{w['suppression']}/", None, "suppression.remove"),
    ]


# Actions with no API door: only their manage.py commands take them (shell access; each run is in the
# audit log: tests/queueops/test_queue_clear.py, test_queue_restart.py).
COMMAND_ONLY = {"queue.clear", "queue.restart"}


def test_the_attack_list_covers_every_action():
    listed = {action for *_, action in api_actions({"job": 1, "alert": 1, "suppression": 1})}
    assert listed == set(rights.ACTIONS) - COMMAND_ONLY
    assert set(rights.ACTIONS) >= COMMAND_ONLY


def _nothing_changed(world) -> None:
    assert FailedJob.objects.filter(pk=world["job"]).exists()
    assert Alert.objects.get(pk=world["alert"]).is_open
    assert PeriodicTask.objects.get(name=DAILY).enabled
    assert list(Suppression.objects.values_list("pk", flat=True)) == [world["suppression"]]
    assert not AuditEntry.objects.exists()


def test_staff_without_the_ops_groups_can_neither_read_nor_act_through_the_api(base, world):
    staff = Session(base, make_user("sam-staff", staff=True))
    assert staff.call("get", "/api/ops/failed-jobs/")[0] == 403
    for method, path, body, action in api_actions(world):
        status, answer = staff.call(method, path, body)
        assert status == 403, (action, answer)
    _nothing_changed(world)


def test_a_reader_in_the_ops_group_reads_but_every_action_is_403(base, world):
    reader = Session(base, make_user("rhea-ops", staff=True, ops_group=True))
    status, listing = reader.call("get", "/api/ops/failed-jobs/")
    assert status == 200 and len(listing["results"]) == 1
    for method, path, body, action in api_actions(world):
        status, answer = reader.call(method, path, body)
        assert status == 403, (action, answer)
        assert answer["detail"] == (
            f"Not allowed: {action} needs the {rights.ACTIONS[action]} permission "
            "(the 'ops-admin' group holds it)."
        )
    _nothing_changed(world)


def test_the_dashboard_refuses_staff_and_readers_its_buttons(base, world):
    staff = Session(base, make_user("dora-staff", staff=True))
    reader = Session(base, make_user("rolf-ops", staff=True, ops_group=True))
    assert staff.call("get", "/admin/operations/dashboard/")[0] == 403
    assert staff.call("get", "/admin/operations/dashboard/refresh/")[0] == 403
    status, panels = reader.call("get", "/admin/operations/dashboard/refresh/")
    assert status == 200 and f'data-job-id="{world["job"]}"' in panels["html"]
    assert 'data-action="retry"' not in panels["html"] and 'data-action="forget"' not in panels["html"]
    for session in (staff, reader):
        for button in ("retry", "forget"):
            status, answer = session.call(
                "post", f"/admin/operations/dashboard/failed/{world['job']}/{button}/"
            )
            assert status == 403, (button, answer)
    _nothing_changed(world)


def test_the_admin_offers_a_reader_no_action_and_refuses_the_one_they_post(base, world):
    reader = Session(base, make_user("rory-ops", staff=True, ops_group=True))
    status, page = reader.call("get", "/admin/queueops/failedjob/")
    assert status == 200 and "Retry the selected" not in page and "Forget the selected" not in page
    for action in ("retry", "forget"):
        form = {"action": action, "_selected_action": [str(world["job"])], "index": "0"}
        status, _ = reader.call("post", "/admin/queueops/failedjob/", form, form=True)
        assert status in (200, 302)
    daily = PeriodicTask.objects.get(name=DAILY).pk
    form = {"action": "disable_tasks", "_selected_action": [str(daily)], "index": "0"}
    reader.call("post", "/admin/django_celery_beat/periodictask/", form, form=True)
    assert reader.call("get", "/admin/mailops/suppression/add/")[0] == 403
    form = {"address": "new@example.com", "reason": "manual", "detail": ""}
    assert reader.call("post", "/admin/mailops/suppression/add/", form, form=True)[0] == 403
    suppression = f"/admin/mailops/suppression/{world['suppression']}/delete/"
    assert reader.call("post", suppression, {"post": "yes"}, form=True)[0] == 403
    _nothing_changed(world)


def test_ops_admin_may_pause_the_daily_backup_and_it_is_audited_with_the_door(base, world):
    operator = Session(base, make_user("oscar-ops", ops_admin=True))
    status, answer = operator.call("post", f"/api/ops/schedules/{DAILY}/pause/")
    assert status == 200, answer
    assert not PeriodicTask.objects.get(name=DAILY).enabled
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.username, entry.channel, entry.target) == (
        "schedule.pause",
        "oscar-ops",
        "api",
        DAILY,
    )


def test_ops_admin_acts_in_the_admin_and_each_action_is_audited_there(base, world):
    operator = Session(base, make_user("olga-ops", staff=True, ops_admin=True))
    form = {"action": "forget", "_selected_action": [str(world["job"])], "index": "0"}
    assert operator.call("post", "/admin/queueops/failedjob/", form, form=True)[0] == 302
    assert not FailedJob.objects.filter(pk=world["job"]).exists()
    daily = PeriodicTask.objects.get(name=DAILY).pk
    form = {"action": "disable_tasks", "_selected_action": [str(daily)], "index": "0"}
    assert operator.call("post", "/admin/django_celery_beat/periodictask/", form, form=True)[0] == 302
    assert not PeriodicTask.objects.get(name=DAILY).enabled
    form = {"address": "added@example.com", "reason": "manual", "detail": "by hand"}
    assert operator.call("post", "/admin/mailops/suppression/add/", form, form=True)[0] == 302
    entries = list(
        AuditEntry.objects.order_by("id").values_list("action", "channel", "username", "remote_addr")
    )
    assert entries == [
        ("failed_job.forget", "admin", "olga-ops", "127.0.0.1"),
        ("schedule.pause", "admin", "olga-ops", "127.0.0.1"),
        ("suppression.add", "admin", "olga-ops", "127.0.0.1"),
    ]
