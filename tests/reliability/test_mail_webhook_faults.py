"""Mail webhook events under faults, on RabbitMQ (production's broker): signed webhooks keep
coming while a worker is SIGKILLed, the RabbitMQ node crashes and MariaDB stops; every event the
webhook answered 200 ends stored exactly once, and none is lost.

Where each fault sends an event: a worker killed mid-task leaves its task unacknowledged, and
RabbitMQ hands it out again at once; while RabbitMQ is down the webhook cannot publish and stores
the event directly (MariaDB is up); while MariaDB is down the webhook still publishes (publisher
confirms: a 200 means the event is on the quorum queue's disk) and `mailops.store_event` retries
until MariaDB is back.

No Redis-broker variant: Redis has the lost-message window docs/RUNBOOK.md describes ("Lost
messages"), which tests/reliability/test_broker_worker_kill.py measures for every task alike; the
webhook's own fallback when a Redis broker is unreachable is tests/mailops/test_webhook_tasks.py's.
The stack here is the fault suite's, on a RabbitMQ node of its own and without beats (no periodic
job takes part).
"""

from __future__ import annotations

import http.client
import json
import threading
import time

import pytest

from tests.mailops.signing import SIGNING_KEY, payload
from tests.reliability.stack import Stack, wait_until

WEBHOOK = "/anymail/mailgun/tracking/"
KINDS = ("delivered", "opened", "permanent_failure", "temporary_failure", "complained")
SEEN = 3  # posts answered 200 during each outage before it ends
# Events a task stores only after MariaDB is back wait out store_event's backoff (5 s, then 30 s
# when MariaDB took longer than the first wait to come back).
SETTLE = 180


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    started = Stack(tmp_path_factory.mktemp("mail-stack"), rabbitmq=True, beats=())
    try:
        yield started.start()
    finally:
        started.close()


class Webhooks(threading.Thread):
    """Posts signed Mailgun events to the stack's web until stopped; keeps each token's answer."""

    def __init__(self, stack: Stack, prefix: str, pause: float = 0.02):
        super().__init__(daemon=True)
        self.stack = stack
        self.prefix = prefix
        self.pause = pause
        self.answers: dict[str, int | None] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        connection = None
        n = 0
        while not self._halt.is_set():
            n += 1
            token = f"{self.prefix}{n:05d}"
            body = payload(KINDS[n % len(KINDS)], f"user{n % 40}@example.com", key=SIGNING_KEY, token=token)
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", self.stack.web_port, timeout=15)
                connection.request(
                    "POST", WEBHOOK, body=json.dumps(body), headers={"Content-Type": "application/json"}
                )
                response = connection.getresponse()
                response.read()
                self.answers[token] = response.status
            except (OSError, http.client.HTTPException):
                self.answers[token] = None
                connection = None
            self._halt.wait(self.pause)

    def finish(self) -> None:
        self._halt.set()
        self.join(30)

    def acknowledged(self) -> set[str]:
        return {token for token, status in self.answers.items() if status == 200}


def _stored(stack: Stack, prefix: str) -> list[str]:
    return [
        row[0] for row in stack.sql(f"SELECT event_id FROM mailops_mailevent WHERE event_id LIKE '{prefix}%'")
    ]


def _answered_meanwhile(hooks: Webhooks, what: str) -> int:
    """Wait until SEEN more posts were answered 200; how many were."""
    before = len(hooks.acknowledged())
    wait_until(lambda: len(hooks.acknowledged()) - before >= SEEN, 60, f"{SEEN} posts answered 200 {what}")
    return len(hooks.acknowledged()) - before


def test_every_acknowledged_webhook_event_is_stored_once_through_worker_rabbitmq_and_database_faults(stack):
    prefix = f"hook-{int(time.time())}-"
    hooks = Webhooks(stack, prefix)
    hooks.start()
    wait_until(lambda: len(_stored(stack, prefix)) >= 30, 60, "events stored by the workers")

    # A worker SIGKILLed under load, mid-task; restarted under the same node name.
    killed = "w1@reliability"
    stack.kill_worker(killed)
    restarted = stack.start_worker(killed)

    # RabbitMQ crashes: the webhook stores what it is sent directly meanwhile.
    stack.rabbitmq.stop(kill=True)
    answered_while_broker_down = _answered_meanwhile(hooks, "while RabbitMQ is down")
    stack.rabbitmq.start()
    restarted.wait_for_line(r"ready\.", timeout=120)

    # MariaDB stops: the webhook keeps answering 200, the store tasks retry until it is back.
    stack.mariadb.stop()
    answered_while_db_down = _answered_meanwhile(hooks, "while MariaDB is down")
    stack.mariadb.start()
    wait_until(lambda: stack.health().status == 200, 60, "/health to pass after MariaDB")
    hooks.finish()

    acknowledged = hooks.acknowledged()
    wait_until(
        lambda: acknowledged <= set(_stored(stack, prefix)),
        SETTLE,
        f"the {len(acknowledged)} acknowledged events stored",
        explain=lambda: (
            f"{len(acknowledged - set(_stored(stack, prefix)))} missing\n{stack.outputs()}\n"
            f"--- queues\n{stack.rabbitmq.queues()}"
        ),
    )
    stored = _stored(stack, prefix)
    assert len(stored) == len(set(stored)), "an event stored twice"
    assert set(stored) <= set(hooks.answers), "an event nobody posted"
    refused = {status for status in hooks.answers.values() if status != 200}
    assert refused <= {503, None}, f"unclear answers: {refused}"
    print(
        f"mail webhook faults (RabbitMQ): {len(acknowledged)} of {len(hooks.answers)} posts "
        f"acknowledged, all stored once, none lost; {answered_while_broker_down} answered 200 while "
        f"RabbitMQ was down, {answered_while_db_down} while MariaDB was down; other answers "
        f"{sorted(map(str, refused)) or 'none'}"
    )
