"""A RabbitMQ resource alarm under a running web: publishes fail in bounded time, then resume.

On a memory or disk alarm RabbitMQ blocks publishers: it stops reading their sockets, so the
publisher confirm never comes. Without a bound (BROKER_PUBLISH_TIMEOUT) a web request that
enqueues waited for it forever. On a node of the test's own (never the machine's shared one),
each alarm in turn: an API action that publishes answers 503 with Retry-After and changes
nothing; the mail webhook stores its event directly and answers 200. Once the alarm clears, the
same action succeeds.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request

import pytest
from django.contrib.auth.models import User
from knox.models import AuthToken

from mailops.models import MailEvent
from queueops.models import FailedJob
from tests.mailops.signing import SIGNING_KEY, payload
from tests.reliability.test_rabbitmq_outage import _call
from tests.support.celery_worker import child_env
from tests.support.processes import BIN, ManagedProcess, free_port
from tests.support.rabbitmq_server import RabbitMQServer
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"  # the /usr/sbin wrapper re-runs as user rabbitmq
ALARMS = {
    # (raise, clear): a threshold the node is past at once, then the defaults back.
    "memory": (("set_vm_memory_high_watermark", "0.0000001"), ("set_vm_memory_high_watermark", "0.4")),
    "disk": (("set_disk_free_limit", "100000GB"), ("set_disk_free_limit", "50MB")),
}


def _ctl(node: RabbitMQServer, *args: str) -> None:
    env = {**os.environ, **node.env()}
    subprocess.run([CTL, "-n", node.node, *args], env=env, capture_output=True, timeout=120, check=True)


def _webhook(port: int, token: str) -> int:
    body = json.dumps(payload("delivered", "alarm@example.com", key=SIGNING_KEY, token=token)).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/anymail/mailgun/tracking/",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_resource_alarm_fails_publishes_in_bounded_time_and_they_resume(tmp_path):
    user = User.objects.create_superuser("rabbit-alarm-ops", "ops@example.com", "x")
    token = AuthToken.objects.create(user=user)[1]
    job = FailedJob.objects.create(
        task_id="alarm-failed-1",
        connection="amqp://",
        queue="celery",
        task="tests.noop",
        attempts=3,
        exception="builtins.RuntimeError",
    )
    retry = f"/api/ops/failed-jobs/{job.pk}/retry/"

    node = RabbitMQServer(tmp_path / "rabbitmq")
    node.start()
    env = {
        **os.environ,
        **child_env(CELERY_BROKER_URL=node.url, QUEUE_ALERTS="none", MAILGUN_WEBHOOK_SIGNING_KEY=SIGNING_KEY),
    }
    port = free_port()
    web_argv = [str(BIN / "uvicorn"), "opsproject.asgi:application", "--host", "127.0.0.1"]
    web = ManagedProcess([*web_argv, "--port", str(port), "--lifespan", "off"], env=env)
    try:
        web.wait_for_line(r"Uvicorn running", timeout=60)
        assert _webhook(port, "alarm-before") == 200  # published: the web reaches the node
        for alarm, (raise_it, clear_it) in ALARMS.items():
            _ctl(node, *raise_it)
            # The client waits up to 60 s: a publish waiting for its confirm without end fails
            # the test here instead of hanging it.
            status, headers, body = _call(port, token, "POST", retry)
            assert status == 503 and headers.get("Retry-After") == "5", (alarm, status, body)
            assert "not retried" in body["detail"], (alarm, body)
            assert FailedJob.objects.filter(pk=job.pk).exists(), "nothing half-done"
            assert _webhook(port, f"alarm-{alarm}") == 200, alarm
            assert MailEvent.objects.filter(event_id=f"alarm-{alarm}").exists(), "stored directly"
            _ctl(node, *clear_it)
        answers = []
        wait_until(
            lambda: answers.append(_call(port, token, "POST", retry)) or answers[-1][0] == 200,
            120,
            "the retry to be accepted once the alarms cleared",
            explain=lambda: answers[-1],
        )
        assert not FailedJob.objects.filter(pk=job.pk).exists()
        print(f"\nRabbitMQ alarms ({len(ALARMS)}): 503 + Retry-After, webhook stored directly; 200 after")
    finally:
        web.stop()
        node.stop()
