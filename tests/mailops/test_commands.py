"""mail_suppressions, mail_events and mail_send_test: what they print, store and exit with."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.models import AuditEntry
from mailops.models import MailEvent, OutboundMessage, Suppression
from mailops.suppression import suppress
from tests.mailops.conftest import mail_env
from tests.queueops.conftest import manage


def run(*args) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
        code = 0
    except SystemExit as done:
        code = done.code
    return code, out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_add_list_remove(mail_settings):
    assert run("mail_suppressions", "add", "Rita@Example.com", "--detail", "asked by phone")[0] == 0
    code, out, _ = run("mail_suppressions", "add", "rita@example.com")
    assert code == 0 and "already suppressed" in out
    suppress("sam@example.com", "bounced", "webhook")

    code, out, _ = run("mail_suppressions", "list", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and {(r["address"], r["reason"]) for r in rows} == {
        ("Rita@Example.com", "manual"),
        ("sam@example.com", "bounced"),
    }
    assert run("mail_suppressions", "list", "--reason", "bounced")[1].startswith("sam@example.com")

    assert run("mail_suppressions", "remove", "RITA@example.com")[0] == 0
    code, _, err = run("mail_suppressions", "remove", "rita@example.com")
    assert code == 1 and "not on the suppression list" in err
    assert list(Suppression.objects.values_list("address_key", flat=True)) == ["sam@example.com"]


@pytest.mark.django_db
def test_import_pages_through_mailgun_and_keeps_what_is_there(mail_settings, mailgun):
    mailgun.lists["bounces"] = [
        {
            "address": f"b{n}@example.com",
            "code": "550",
            "error": "No such user",
            "created_at": "Fri, 21 Oct 2025 11:02:55 UTC",
        }
        for n in range(5)
    ]
    mailgun.lists["complaints"] = [
        {"address": "C1@example.com", "count": 1, "created_at": "Tue, 15 Nov 2025 08:25:11 UTC"}
    ]
    mailgun.lists["unsubscribes"] = [
        {"address": "u1@example.com", "tags": ["*"], "created_at": "Tue, 15 Nov 2025 08:25:11 UTC"}
    ]
    suppress("b0@example.com", "manual", "operator")

    code, out, _ = run("mail_suppressions", "import", "--json")

    assert code == 0
    assert json.loads(out)["lists"] == {
        "bounces": {"read": 5, "added": 4, "skipped": 0},
        "complaints": {"read": 1, "added": 1, "skipped": 0},
        "unsubscribes": {"read": 1, "added": 1, "skipped": 0},
    }
    # 5 bounces at 2 a page: 3 pages and the empty one that ends the list.
    assert mailgun.count("GET", f"/v3/{mailgun.domain}/bounces") == 4
    assert Suppression.objects.get(address_key="b0@example.com").reason == "manual", "kept as it was"
    imported = Suppression.objects.get(address_key="c1@example.com")
    assert (imported.reason, imported.source, imported.created_at.year) == ("complained", "import", 2025)
    assert run("mail_suppressions", "import")[1].count("added 0") == 3, "a second import adds nothing"


@pytest.mark.django_db
def test_import_with_a_refused_key_exits_1(mail_settings, mailgun):
    mail_settings.MAILGUN_API_KEY = "key-wrong"
    code, _, err = run("mail_suppressions", "import")
    assert code == 1 and "401" in err and "key-wrong" not in err


@pytest.mark.django_db
def test_mail_events_filters_by_time_and_type():
    now = timezone.now()
    MailEvent.objects.create(event_id="a", event_type="bounced", recipient="a@example.com", occurred_at=now)
    MailEvent.objects.create(event_id="b", event_type="delivered", recipient="b@example.com", occurred_at=now)
    MailEvent.objects.create(
        event_id="c", event_type="bounced", recipient="c@example.com", occurred_at=now - timedelta(days=3)
    )

    code, out, _ = run("mail_events", "--type", "bounced", "--json")
    assert code == 0 and [json.loads(line)["event_id"] for line in out.splitlines()] == ["a"]
    code, out, _ = run("mail_events", "--since", "7d", "--type", "bounced,delivered")
    assert len(out.splitlines()) == 3


@pytest.mark.django_db
def test_bad_usage_exits_2_with_one_line():
    # Through the command line (argparse's own errors and ours), as an operator meets them.
    for args in (["mail_events", "--since", "yesterday"], ["mail_suppressions", "add", "not-an-address"]):
        done = manage(*args)
        assert done.returncode == 2, (args, done.stderr)
        last = done.stderr.strip().splitlines()[-1]
        assert "Traceback" not in done.stderr and ("yesterday" in last or "not-an-address" in last), last
    # The rest in this process: the same CommandError, without paying a start-up each.
    for args in (
        ["mail_events", "--type", "exploded"],
        ["mail_send_test", "--to", "ops@example.com", "--wait", "inf"],
        ["mail_send_test", "--to", "ops@example.com", "--wait", "nan"],
        ["mail_send_test", "--to", "nobody"],
        ["mail_suppressions", "remove", "@"],
        ["mail_suppressions", "add", "x" * 250 + "@example.com"],
    ):
        with pytest.raises(CommandError) as raised:
            call_command(*args, stdout=StringIO(), stderr=StringIO())
        assert raised.value.returncode == 2 or str(raised.value).startswith("Error: "), args
    assert not OutboundMessage.objects.exists() and not Suppression.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_mail_send_test_queues_without_waiting(mailgun):
    done = manage("mail_send_test", "--to", "ops@example.com", "--wait", "0", "--json", env=mail_env(mailgun))

    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["status"] == "queued"
    assert OutboundMessage.objects.get(pk=outcome["id"]).kind == "mail_send_test"
    # It mails an address of the operator's choosing through our domain: the run is audited.
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.channel, entry.target, entry.outcome) == (
        "mail.send_test",
        "command",
        "ops@example.com",
        "ok",
    )
