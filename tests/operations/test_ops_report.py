"""ops_report on a real, healthy stack scores 10/10; each broken item lowers it and names why.

The stack: a real Celery worker and two real leader-locked beats on the test's MariaDB and Redis,
a backup in a real S3-compatible bucket (weed) with a passing restore drill, a signed Mailgun
webhook received over real HTTP, and mail credentials checked against a local Mailgun.
"""

import json
import signal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from keyvalue import store
from operations.report import MISSING, OK, build_report
from realtime import servers
from scheduler.leadership import LEADER_KEY, coordinator
from tests.backups.conftest import backup_settings
from tests.mailops.signing import payload, post
from tests.realtime.support import asgi_server
from tests.scheduler.beat_support import start_beat
from tests.support.celery_worker import celery_worker
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _item(report, name):
    return next(item for item in report.items if item.name == name)


def _report_once(predicate, what: str):
    """The first report (polled) for which `predicate(report)` holds; fail explaining the last one."""
    seen = []

    def ready():
        seen[:] = [build_report()]
        return seen[0] if predicate(seen[0]) else None

    return wait_until(ready, 60, what, interval=0.25, explain=lambda: _explain(seen[0]) if seen else "")


def _explain(report) -> str:
    return "\n".join(f"{i.section} / {i.name}: {i.status}: {i.evidence}" for i in report.gaps())


def test_a_healthy_stack_scores_10_and_each_broken_item_lowers_the_score(
    s3_server, tmp_path, keys, webhook_url, mail_settings, capsys
):
    call_command("schedule_sync")
    board = coordinator()
    store().delete(LEADER_KEY)
    bucket = backup_settings(
        tmp_path, keys, s3_server.storage_config(f"r{tmp_path.name[-8:]}"), BACKUP_S3_BUCKET=s3_server.bucket
    )
    beats = []
    with (
        bucket,
        override_settings(HEALTH_TOKEN="t" * 32, ADMINS=[("Ops", "ops@example.com")]),
        celery_worker() as worker,
        asgi_server(),  # a realtime server, whose heartbeat /health/realtime wants
    ):
        call_command("backup_run", "--note", "readiness")
        call_command("backup_drill", "latest")
        assert post(webhook_url, payload("delivered", "someone@example.com"))[0] == 200
        beats = [start_beat(name, ttl=6, tick=1) for name in ("beat-a", "beat-b")]
        wait_until(
            lambda: (
                board.leader() in ("beat-a", "beat-b")
                and sum(1 for s in board.members().values() if s["role"] == "standby" and s["age"] < 5) >= 1
            ),
            60,
            "a leader and a standby",
        )
        wait_until(lambda: servers.alive(), 60, "the realtime server's heartbeat")
        try:
            # A loaded machine may let a heartbeat age past its limit for a moment: wait for 10.
            _report_once(lambda report: report.score == 10, "a score of 10")
            capsys.readouterr()
            call_command("ops_report", "--format", "json", "--min-score", "10")
            assert json.loads(capsys.readouterr().out)["score"] == 10

            with override_settings(MAILGUN_WEBHOOK_SIGNING_KEY=""):
                report = build_report()
            assert report.score < 10
            assert _item(report, "Webhook signing key").status == MISSING
            assert "missing webhook signing key" in _item(report, "Webhook signing key").evidence

            with override_settings(BACKUP_MAX_AGE=1):
                report = _report_once(
                    lambda report: _item(report, "Recent backup").status == MISSING,
                    "the last backup older than BACKUP_MAX_AGE=1",
                )
            assert report.score < 10
            assert _item(report, "Recent backup").status == MISSING
            assert "no recent backup" in _item(report, "Recent backup").evidence

            standby = beats[1] if board.leader() == "beat-a" else beats[0]
            standby.signal(signal.SIGTERM)
            standby.proc.wait(30)
            report = _report_once(
                lambda report: _item(report, "HA / redundancy").status == MISSING, "one beat left"
            )
            assert report.score < 10
            assert _item(report, "HA / redundancy").status == MISSING
            assert "one beat only" in _item(report, "HA / redundancy").evidence
            assert _item(report, "Leading beat").status == OK
            with pytest.raises(SystemExit) as below:
                call_command("ops_report", "--min-score", "10")
            assert below.value.code == 1
            assert "| HA / redundancy | ❌ | one beat only" in capsys.readouterr().out

            one_beat_score = report.score
            worker.stop()
            report = _report_once(lambda report: _item(report, "Live workers").status == MISSING, "no worker")
            assert report.score < one_beat_score
            assert _item(report, "Live workers").status == MISSING
            assert "worker down" in _item(report, "Live workers").evidence
        finally:
            for beat in beats:
                beat.stop()


def test_bad_usage_exits_2():
    for bad in ("eleven", "11", "-1"):
        with pytest.raises(CommandError) as error:
            call_command("ops_report", "--min-score", bad)
        assert error.value.returncode == 2


def test_the_report_judges_the_running_system_and_reads_no_repository_file(monkeypatch):
    """The deploy files' promises (compose healthchecks, CI, the deploy gate) are tests/deploy's."""
    read = []
    real_read_text, real_open = Path.read_text, Path.open

    def watched(method):
        def wrapper(self, *args, **kwargs):
            if {"compose", ".github"} & set(self.parts):
                read.append(str(self))
            return method(self, *args, **kwargs)

        return wrapper

    monkeypatch.setattr(Path, "read_text", watched(real_read_text))
    monkeypatch.setattr(Path, "open", watched(real_open))
    report = build_report()
    assert read == []
    assert {item.section for item in report.items} == {
        "Queue workers",
        "Scheduler",
        "Mail (Mailgun)",
        "Realtime",
        "Backups",
        "Health endpoints",
    }
