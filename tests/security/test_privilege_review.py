"""A review's attacks over real HTTP: the admin's search as a secret oracle, and the dashboard's
and ops API's POSTs without a CSRF token."""

from __future__ import annotations

import pytest

from audit.models import AuditEntry
from mailops.models import Suppression
from queueops.models import FailedJob
from tests.operations.conftest import failed_job, make_user
from tests.security.support import Session, server

pytestmark = pytest.mark.django_db(transaction=True)

DSN_PASSWORD = "dsn-pa55-Zq81"


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
