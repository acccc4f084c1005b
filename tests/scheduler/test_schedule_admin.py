"""The scheduler's admin pages render for staff and stay read-only."""

import pytest
from django.utils import timezone

from scheduler.models import JobRun
from scheduler.periodic import PeriodicJob, every
from scheduler.sync import sync_jobs

pytestmark = pytest.mark.django_db


def test_job_and_run_pages(admin_client):
    sync_jobs([PeriodicJob("t.page", task="t", schedule=every(60))])
    JobRun.objects.create(
        job="t.page", task_id="abc", started_at=timezone.now(), outcome="failure", error="Boom"
    )
    jobs = admin_client.get("/admin/scheduler/managedjob/")
    assert jobs.status_code == 200 and b"t.page" in jobs.content
    runs = admin_client.get("/admin/scheduler/jobrun/?q=Boom")
    assert runs.status_code == 200 and b"t.page" in runs.content
    assert admin_client.get("/admin/scheduler/jobrun/add/").status_code == 403
    assert admin_client.get("/admin/scheduler/managedjob/add/").status_code == 403


def test_periodic_task_actions_need_their_permissions_and_the_enabled_box_needs_pause(client):
    from django.contrib.auth.models import Permission, User
    from django_celery_beat.models import PeriodicTask

    sync_jobs([PeriodicJob("t.beat", task="t", schedule=every(60))])
    task = PeriodicTask.objects.get(name="t.beat")
    editor = User.objects.create_user("editor", is_staff=True)
    editor.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_periodictask", "change_periodictask"])
    )
    client.force_login(editor)
    page = client.get("/admin/django_celery_beat/periodictask/")
    assert page.status_code == 200
    assert b"disable_tasks" not in page.content and b"run_tasks" not in page.content
    form = client.get(f"/admin/django_celery_beat/periodictask/{task.pk}/change/")
    assert b'name="enabled"' not in form.content  # shown, not editable
    for pausing in (b'name="one_off"', b'name="expires_0"', b'name="expire_seconds"', b'name="start_time_0"'):
        assert pausing not in form.content  # each would stop the task as surely as `enabled`


def test_an_operator_who_may_pause_edits_the_fields_that_pause(client):
    from django.contrib.auth.models import User
    from django_celery_beat.models import PeriodicTask

    sync_jobs([PeriodicJob("t.beat", task="t", schedule=every(60))])
    task = PeriodicTask.objects.get(name="t.beat")
    client.force_login(User.objects.create_superuser("root-editor"))
    form = client.get(f"/admin/django_celery_beat/periodictask/{task.pk}/change/")
    for pausing in (b'name="enabled"', b'name="one_off"', b'name="expires_0"', b'name="start_time_0"'):
        assert pausing in form.content
