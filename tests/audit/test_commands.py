"""Management commands write the audit log (door "command"): what ran, with which arguments, by whom."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.log import os_user
from audit.models import AuditEntry
from mailops.models import Suppression
from queueops.models import FailedJob
from tests.health.support import manage

pytestmark = pytest.mark.django_db


def _job(n: int) -> FailedJob:
    return FailedJob.objects.create(
        task_id=f"audit-{n}", connection="redis://", queue="q", task="t", exception="E", attempts=1
    )


def test_queue_flush_and_forget_are_audited_with_their_arguments_and_the_os_user():
    first, second = _job(1), _job(2)
    call_command("queue_forget", str(first.pk), verbosity=0)
    call_command("queue_flush", verbosity=0)
    forget, flush = AuditEntry.objects.order_by("id")
    assert (forget.action, forget.channel, forget.outcome, forget.username) == (
        "failed_job.forget",
        AuditEntry.COMMAND,
        AuditEntry.OK,
        os_user(),
    )
    assert forget.detail["command"] == "queue_forget"
    assert forget.detail["arguments"] == {"id": str(first.pk)}
    assert forget.detail["task_id"] == "audit-1"
    assert flush.action == "failed_job.flush" and flush.detail["deleted"] == 1
    assert flush.detail["arguments"] == {"hours": None}
    assert forget.remote_addr is None and forget.user is None
    assert not FailedJob.objects.filter(pk=second.pk).exists()


def test_a_failed_run_is_audited_as_failed_with_its_exit_code():
    with pytest.raises(CommandError):
        call_command("queue_forget", "999999", verbosity=0)
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.outcome, entry.detail["exit_code"]) == ("failed_job.forget", "failed", 1)


def test_read_only_commands_are_not_audited():
    _job(3)
    call_command("queue_failed", verbosity=0)
    call_command("backup_maintenance", "status", verbosity=0)
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_real_manage_py_run_masks_secrets_in_its_arguments(settings):
    secret_url = "redis://:Pa55-word-in-a-url@10.0.0.9:6379/0"
    code, output, _ = manage(
        "mail_suppressions", "add", "who@example.com", "--detail", f"leaked {secret_url}"
    )
    assert code == 0, output
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.channel, entry.target) == ("suppression.add", "command", "who@example.com")
    assert "Pa55-word-in-a-url" not in str(entry.detail)
    assert entry.detail["arguments"]["detail"] == "leaked redis://***@10.0.0.9:6379/0"
    assert Suppression.objects.filter(address="who@example.com").exists()
    code, output, _ = manage("mail_suppressions", "list")
    assert code == 0 and AuditEntry.objects.count() == 1


def test_help_says_runs_are_audited():
    from queueops.management.commands.queue_flush import Command

    help_text = Command().create_parser("manage.py", "queue_flush").format_help()
    assert "audit log" in help_text
