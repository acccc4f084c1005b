"""The admin of failed jobs (filters, search, payload, traceback, retry, forget) and of alerts."""

import pytest
from django.urls import reverse

from alerts.notices import raise_alert, resolve_alert
from audit.models import AuditEntry
from queueops.broker import queue_stats
from queueops.models import FailedJob
from tests.queueops.test_failed_jobs import _job

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = "admin:queueops_failedjob_changelist"


def test_failed_jobs_are_listed_filtered_searched_and_shown(admin_client, queue_env):
    a = _job(1, traceback="Traceback\n  File x\nValueError: <needle>")
    _job(2, queue="mail", task="mailops.send", message="smtp refused")
    listing = admin_client.get(reverse(CHANGELIST))
    assert listing.status_code == 200 and b"mailops.send" in listing.content
    searched = admin_client.get(reverse(CHANGELIST), {"q": "task-1"})
    assert list(searched.context["cl"].result_list) == [a]
    # Not the stored text, which the page shows masked (tests/security/test_privilege_review.py).
    searched = admin_client.get(reverse(CHANGELIST), {"q": "<needle>"})
    assert list(searched.context["cl"].result_list) == []
    filtered = admin_client.get(reverse(CHANGELIST), {"queue": "mail"})
    assert [job.task for job in filtered.context["cl"].result_list] == ["mailops.send"]
    detail = admin_client.get(reverse("admin:queueops_failedjob_change", args=[a.pk]))
    assert detail.status_code == 200
    assert b"ValueError: &lt;needle&gt;" in detail.content, "traceback shown, escaped"
    assert b"/tmp/never-1" in detail.content, "payload shown"


def test_admin_actions_retry_and_forget(admin_client, queue_env):
    a = _job(1, queue="qo_idle")
    b = _job(2)
    retried = admin_client.post(
        reverse(CHANGELIST), {"action": "retry", "_selected_action": [a.pk]}, follow=True
    )
    assert b"Sent 1 failed job(s) again." in retried.content
    assert not FailedJob.objects.filter(pk=a.pk).exists()
    assert queue_stats(["qo_idle"])[0].size == 1
    # One entry for the selection, as the ops API writes it (queueops.failed.retry_audited).
    entry = AuditEntry.objects.get(action="failed_job.retry_many")
    assert (entry.channel, entry.outcome) == (AuditEntry.ADMIN, AuditEntry.OK)
    assert entry.target == "1 failed job(s)"
    assert entry.username == "admin" and entry.detail == {"retried": [a.pk], "failed": []}
    forgotten = admin_client.post(
        reverse(CHANGELIST), {"action": "forget", "_selected_action": [b.pk]}, follow=True
    )
    assert b"Forgot 1 failed job(s)." in forgotten.content
    assert not FailedJob.objects.exists()


def test_alerts_are_shown_open_and_resolved(admin_client, settings):
    settings.ADMINS = []
    raise_alert("queue.backlog.celery", "Queue celery backlog: 5000 waiting (max 1000)", source="queueops")
    raise_alert("backups.stale", "No backup for 26 h", source="backups")
    resolve_alert("backups.stale")
    url = reverse("admin:alerts_alert_changelist")
    open_only = admin_client.get(url, {"status": "open"})
    assert [alert.key for alert in open_only.context["cl"].result_list] == ["queue.backlog.celery"]
    everything = admin_client.get(url)
    assert b"resolved" in everything.content and b"5000 waiting" in everything.content
