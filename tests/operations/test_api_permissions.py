"""Every ops API endpoint: anonymous 401, a non-operator 403, a reader reads but may not act, an
`ops-admin` operator 2xx, and actions audited."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.urls import resolve

from alerts.notices import raise_alert
from audit.models import AuditEntry
from mailops.models import Suppression
from operations.api import urls as api_urls
from queueops.models import FailedJob
from tests.operations.conftest import client_for, failed_job, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_queues")]

JOB = "operations.sample_queues"


@pytest.fixture
def world(db):
    call_command("schedule_sync", verbosity=0)
    job = failed_job(1)
    failed_job(2, queue="ops_a", routing_key="ops_a")
    alert = raise_alert("ops.test", "Something is off", source="tests")
    suppression = Suppression.objects.create(address="gone@example.com", reason="manual", source="operator")
    return {"job": job.pk, "alert": alert.pk, "suppression": suppression.pk}


# (method, path, body, status for an operator, audited action or None)
def endpoints(w: dict) -> list[tuple[str, str, dict | None, int, str | None]]:
    return [
        ("get", "/api/ops/overview/", None, 200, None),
        ("get", "/api/ops/failed-jobs/?queue=ops_probe", None, 200, None),
        ("get", f"/api/ops/failed-jobs/{w['job']}/", None, 200, None),
        ("delete", f"/api/ops/failed-jobs/{w['job']}/", None, 200, "failed_job.forget"),
        ("post", f"/api/ops/failed-jobs/{w['job']}/retry/", None, 200, "failed_job.retry"),
        ("post", "/api/ops/failed-jobs/retry/", {"queue": "ops_a"}, 200, "failed_job.retry_many"),
        ("post", "/api/ops/failed-jobs/flush/", {"all": True}, 200, "failed_job.flush"),
        ("get", "/api/ops/queues/", None, 200, None),
        ("get", "/api/ops/workers/", None, 200, None),
        ("get", "/api/ops/alerts/?state=open", None, 200, None),
        ("get", f"/api/ops/alerts/{w['alert']}/", None, 200, None),
        ("post", f"/api/ops/alerts/{w['alert']}/resolve/", None, 200, "alert.resolve"),
        ("get", "/api/ops/schedules/", None, 200, None),
        ("get", f"/api/ops/schedules/{JOB}/", None, 200, None),
        ("post", f"/api/ops/schedules/{JOB}/run/", None, 200, "schedule.run"),
        ("post", f"/api/ops/schedules/{JOB}/pause/", None, 200, "schedule.pause"),
        ("post", f"/api/ops/schedules/{JOB}/resume/", None, 200, "schedule.resume"),
        ("get", "/api/ops/backups/", None, 200, None),
        ("post", "/api/ops/backups/", {"note": "before the upgrade"}, 202, "backup.start"),
        ("get", "/api/ops/backups/drills/", None, 200, None),
        ("post", "/api/ops/backups/drills/", {}, 202, "backup.drill"),
        ("get", "/api/ops/mail/events/?type=bounced", None, 200, None),
        ("get", "/api/ops/mail/suppressions/", None, 200, None),
        ("post", "/api/ops/mail/suppressions/", {"address": "New@Example.com"}, 201, "suppression.add"),
        ("get", f"/api/ops/mail/suppressions/{w['suppression']}/", None, 200, None),
        ("delete", f"/api/ops/mail/suppressions/{w['suppression']}/", None, 200, "suppression.remove"),
        ("get", "/api/ops/audit/", None, 200, None),
    ]


LABELS = [f"{m.upper()} {p}" for m, p, *_ in endpoints({"job": "ID", "alert": "ID", "suppression": "ID"})]
CASES = pytest.mark.parametrize("index", range(len(LABELS)), ids=LABELS)


def _case(world, index):
    return endpoints(world)[index]


def _call(client, method, path, body):
    return (
        getattr(client, method)(path, body, format="json")
        if body is not None
        else getattr(client, method)(path)
    )


def test_every_route_of_the_api_is_listed_here():
    listed = {
        resolve(path.split("?")[0]).url_name
        for _, path, *_ in endpoints({"job": 1, "alert": 1, "suppression": 1})
    }
    assert listed == {pattern.name for pattern in api_urls.urlpatterns} - {"not-found"}


def test_anonymous_gets_401_and_a_non_operator_403_everywhere_and_nothing_changes(world, outsider):
    for method, path, body, _, _ in endpoints(world):
        anonymous = _call(client_for(None), method, path, body)
        assert anonymous.status_code == 401, (method, path, anonymous.content)
        assert anonymous["WWW-Authenticate"].startswith("Token")
        refused = _call(client_for(outsider), method, path, body)
        assert refused.status_code == 403, (method, path, refused.content)
        assert "Operators only" in refused.json()["detail"]
    assert not AuditEntry.objects.exists()
    assert FailedJob.objects.count() == 2
    assert Suppression.objects.count() == 1


def test_a_reader_in_the_ops_group_reads_everything_and_may_take_no_action(world, reader):
    for method, path, body, expected, action in endpoints(world):
        response = _call(client_for(reader), method, path, body)
        if action is None:
            assert response.status_code == expected, (method, path, response.content)
        else:
            assert response.status_code == 403, (method, path, response.content)
            assert response.json()["detail"].startswith(f"Not allowed: {action} needs the ")
    assert not AuditEntry.objects.exists()
    assert FailedJob.objects.count() == 2
    assert Suppression.objects.count() == 1


@CASES
def test_an_operator_in_ops_admin_may_and_every_action_is_audited(world, operator, index):
    method, path, body, expected, action = _case(world, index)
    response = _call(client_for(operator), method, path, body)
    assert response.status_code == expected, response.content
    entries = list(AuditEntry.objects.all())
    if action is None:
        assert entries == []
    else:
        assert [(e.action, e.username, e.channel, e.outcome) for e in entries] == [
            (action, operator.username, AuditEntry.API, AuditEntry.OK)
        ]
        assert entries[0].remote_addr == "127.0.0.1"


def test_staff_is_not_operator(world):
    staff = make_user("sam-staff", staff=True)
    assert client_for(staff).get("/api/ops/failed-jobs/").status_code == 403
    staff.groups.add(Group.objects.get(name="ops"))
    response = client_for(staff).get("/api/ops/failed-jobs/")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 2


def test_a_superuser_keeps_everything(world):
    root = User.objects.create_superuser("root-ops", "root@example.com", "x")
    response = client_for(root).post("/api/ops/failed-jobs/flush/", {"all": True}, format="json")
    assert response.status_code == 200, response.content
    assert not FailedJob.objects.exists()


def test_an_inactive_staff_token_is_refused(world):
    staff = make_user("ivy-inactive", staff=True)
    client = client_for(staff)
    staff.is_active = False
    staff.save()
    assert client.get("/api/ops/overview/").status_code == 401


def test_options_offers_a_reader_no_method_he_may_not_use(world, reader, operator):
    offered = client_for(reader).options("/api/ops/mail/suppressions/")
    assert offered.status_code == 200
    assert "POST" not in offered.json().get("actions", {})
    assert "POST" in client_for(operator).options("/api/ops/mail/suppressions/").json()["actions"]
