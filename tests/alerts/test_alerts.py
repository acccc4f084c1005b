"""Alerts: the backlog check fires once, reminds once per repeat, recovers once; webhooks are real POSTs."""

import json
import re
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection
from django.test import override_settings

from alerts.notices import Alert, raise_alert, resolve_alert
from queueops.tasks import check_backlog
from tests.queueops import tasks
from tests.queueops.conftest import purge
from tests.support.processes import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def webhook_server(status: int = 200, hang: bool = False):
    """A real HTTP server on loopback that records the JSON bodies POSTed to it; with `hang`, it
    answers only once the block is left (a client that waited for it would still be waiting)."""
    received: list[dict] = []
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(
                {"path": self.path, "type": self.headers["Content-Type"], "json": json.loads(body)}
            )
            if hang:
                release.wait()  # a check that ignored its timeout hangs here: pytest-timeout fails it
            try:
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")
            except BrokenPipeError:  # the client gave up waiting: that is the test
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/alerts", received
    finally:
        release.set()
        server.shutdown()
        server.server_close()


ADMINS = [("Ops", "ops@example.com")]


def test_a_backlog_alert_fires_once_reminds_once_and_recovers_once(queue_env, mailoutbox):
    with (
        webhook_server() as (url, posts),
        override_settings(
            QUEUE_ALERTS={"qo_alert": (2, 3600)}, QUEUE_ALERT_REPEAT=2, ALERT_WEBHOOK_URL=url, ADMINS=ADMINS
        ),
    ):
        for n in range(3):
            tasks.plain.apply_async(args=[n], queue="qo_alert")
        assert check_backlog()["qo_alert"] == {
            "size": 3,
            "oldest_age": pytest.approx(0, abs=5),
            "breach": True,
        }
        check_backlog()
        assert len(mailoutbox) == 1 and len(posts) == 1, "one notice while within the repeat time"
        assert mailoutbox[0].to == ["ops@example.com"]
        assert "Queue qo_alert backlog: 3 waiting (max 2)" in mailoutbox[0].subject
        assert posts[0]["type"] == "application/json" and posts[0]["path"] == "/hooks/alerts"
        assert "Queue qo_alert backlog" in posts[0]["json"]["text"]
        alert = Alert.objects.get()
        assert alert.is_open and alert.key == "queue.backlog.qo_alert" and alert.source == "queueops"

        time.sleep(2.1)
        check_backlog()
        check_backlog()
        assert len(mailoutbox) == 2 and len(posts) == 2, "one reminder per repeat time"
        assert "[STILL CRITICAL]" in mailoutbox[1].subject and "[STILL CRITICAL]" in posts[1]["json"]["text"]

        purge("qo_alert")
        assert check_backlog()["qo_alert"]["breach"] is False
        check_backlog()
        assert len(mailoutbox) == 3 and len(posts) == 3, "one recovery notice"
        assert "[RESOLVED] Queue qo_alert backlog" in mailoutbox[2].subject  # after EMAIL_SUBJECT_PREFIX
        assert "after " in mailoutbox[2].subject
        alert.refresh_from_db()
        assert not alert.is_open and alert.reminders == 1 and alert.duration.total_seconds() >= 2


def test_an_old_message_breaches_the_age_limit(queue_env, mailoutbox):
    with override_settings(QUEUE_ALERTS={"qo_alert": (100, 0.5)}, ADMINS=ADMINS, ALERT_WEBHOOK_URL=""):
        tasks.plain.apply_async(args=[1], queue="qo_alert")
        time.sleep(1)
        check_backlog()
    # At least the second slept; more on a loaded machine.
    assert len(mailoutbox) == 1 and re.search(r"oldest waiting \d+ s \(max 0.5 s\)", mailoutbox[0].subject)


@pytest.mark.parametrize("failure", ["500", "slow", "closed port"])
def test_a_failing_webhook_never_breaks_the_check(queue_env, mailoutbox, failure):
    status = 500 if failure == "500" else 200
    with webhook_server(status=status, hang=failure == "slow") as (url, posts):
        if failure == "closed port":
            url = f"http://127.0.0.1:{free_port()}/"
        with override_settings(
            QUEUE_ALERTS={"qo_alert": (0, 3600)},
            ALERT_WEBHOOK_URL=url,
            ALERT_WEBHOOK_TIMEOUT=0.5,
            ADMINS=ADMINS,
        ):
            tasks.plain.apply_async(args=[1], queue="qo_alert")
            # The slow webhook answers only after this block: the check returning at all shows
            # that it gave up after ALERT_WEBHOOK_TIMEOUT.
            assert check_backlog()["qo_alert"]["breach"] is True
        assert len(posts) == (0 if failure == "closed port" else 1)
    assert len(mailoutbox) == 1, "mail goes out whatever the webhook does"
    assert Alert.objects.get().is_open


def test_the_alert_api_for_other_apps(mailoutbox):
    with override_settings(ADMINS=ADMINS, ALERT_WEBHOOK_URL="", QUEUE_ALERT_REPEAT=3600):
        first = raise_alert("backups.stale", "No backup for 26 h", "last: yesterday", source="backups")
        again = raise_alert("backups.stale", "No backup for 27 h", source="backups")
        assert first.pk == again.pk and again.summary == "No backup for 27 h"
        assert len(mailoutbox) == 1 and "last: yesterday" in mailoutbox[0].body
        reminded = raise_alert("backups.stale", "No backup for 28 h", source="backups", repeat=0)
        assert reminded.reminders == 1 and len(mailoutbox) == 2
        assert resolve_alert("backups.stale").resolved_at is not None
        assert resolve_alert("backups.stale") is None and resolve_alert("never.raised") is None
        assert len(mailoutbox) == 3
        reopened = raise_alert("backups.stale", "No backup again", source="backups", severity=Alert.WARNING)
        assert reopened.pk != first.pk and reopened.severity == "warning"
        assert mailoutbox[3].subject.endswith("[WARNING] No backup again")
    assert Alert.objects.count() == 2


def test_concurrent_checks_send_one_notice(mailoutbox):
    barrier = threading.Barrier(4)
    errors = []

    def raise_it():
        try:
            barrier.wait()
            raise_alert("race", "Seen by four checks at once")
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    with override_settings(ADMINS=ADMINS, ALERT_WEBHOOK_URL=""):
        threads = [threading.Thread(target=raise_it) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors
    assert Alert.objects.count() == 1 and len(mailoutbox) == 1
