"""A live restore ends with a smoke login over HTTP against the restored database.

A real uvicorn serves the test database; the restore replaces it, then the configured smoke
user logs in at /api/auth/token/ and reads a ticket that exists only in the backup. A user the
backup does not know fails the restore at its named step, exit 1, the password nowhere.
"""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import override_settings

from backups import maintenance
from helpdesk.models import Ticket
from helpdesk.permissions import AGENTS_GROUP
from tests.security.support import asgi_server

pytestmark = pytest.mark.django_db(transaction=True)  # the live procedure closes every connection

PASSWORD = "smoke-Login-pw-93xq"


def run(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*argv, stdout=out, stderr=err)
    except SystemExit as exit_info:
        return exit_info.code, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


@pytest.fixture
def web():
    maintenance.disable()
    with asgi_server(SECURE_SSL_REDIRECT="0") as server:
        yield f"http://127.0.0.1:{server.port}"
    maintenance.disable()


def test_the_smoke_user_logs_in_over_http_and_reads_a_ticket_of_the_restored_database(local_backups, web):
    agent = User.objects.create_user("smoke-agent", password=PASSWORD)
    agent.groups.add(Group.objects.get_or_create(name=AGENTS_GROUP)[0])
    kept = Ticket.objects.create(requester=agent, subject="only in the backup")
    code, out, err = run("backup_run", "--json")
    assert code == 0, err
    backup_id = json.loads(out)["id"]
    Ticket.objects.all().delete()

    with override_settings(
        BACKUP_SMOKE_URL=web, BACKUP_SMOKE_USERNAME="smoke-agent", BACKUP_SMOKE_PASSWORD=PASSWORD
    ):
        code, out, err = run("backup_restore", backup_id, "--yes", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["steps"][-1]["step"] == "smoke login" and report["steps"][-1]["ok"]
    assert report["smoke"] == f"smoke-agent logged in at {web} and read ticket {kept.pk}"


def test_a_smoke_login_the_restored_database_refuses_fails_the_restore_at_that_step(local_backups, web):
    code, out, err = run("backup_run", "--json")
    assert code == 0, err
    backup_id = json.loads(out)["id"]
    with override_settings(
        BACKUP_SMOKE_URL=web, BACKUP_SMOKE_USERNAME="nobody-restored", BACKUP_SMOKE_PASSWORD=PASSWORD
    ):
        code, out, err = run("backup_restore", backup_id, "--yes")
    assert code == 1
    line = err.strip()
    assert len(line.splitlines()) == 1 and PASSWORD not in line
    assert f"restore of {backup_id} failed at step 'smoke login': login of nobody-restored" in line
    assert "answered 400" in line and line.endswith("state: site up")
    assert not maintenance.active()  # the site is up; only the check failed
