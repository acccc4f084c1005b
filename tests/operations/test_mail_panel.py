"""The dashboard's mail panel and the overview API show the mail inbox (mailops.inbox) backlog."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from mailops import inbox
from operations import snapshot
from tests.operations.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def empty_inbox(settings):
    settings.MAIL_INBOX = True
    settings.MAIL_INBOX_WARN_AGE = 60
    client = inbox._client()
    client.delete(inbox.STREAM)
    yield client
    client.delete(inbox.STREAM)


def test_the_mail_panel_shows_waiting_webhook_events_and_flags_a_late_inbox(empty_inbox):
    assert snapshot.mail()["inbox"] == {"waiting": 0, "oldest_age": None, "late": False}

    empty_inbox.xadd(inbox.STREAM, {inbox.FIELD: "{}"}, id=f"{int((time.time() - 120) * 1000)}-0")
    panel = snapshot.mail()["inbox"]
    assert panel["waiting"] == 1 and panel["late"] is True and 119 <= panel["oldest_age"] <= 125

    staff = Client()
    staff.force_login(make_user("mail-panel-staff", staff=True, ops_group=True))
    html = staff.get("/admin/operations/dashboard/refresh/").json()["html"]
    assert 'id="mail-inbox"' in html and "ops-warn-text" in html.split('id="mail-inbox"')[1][:300]


def test_without_an_inbox_the_panel_says_nothing_of_it(settings):
    settings.MAIL_INBOX = False
    assert snapshot.mail()["inbox"] is None
    staff = Client()
    staff.force_login(make_user("mail-panel-staff-2", staff=True, ops_group=True))
    assert 'id="mail-inbox"' not in staff.get("/admin/operations/dashboard/refresh/").json()["html"]
