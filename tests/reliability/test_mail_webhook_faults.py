"""Mail webhook events under faults: signed webhooks keep coming while a worker is SIGKILLed,
Redis (the broker) crashes and MariaDB stops; every event the webhook answered 200 ends stored
exactly once.

Where each fault sends an event: while Redis is down the webhook cannot publish and stores it
directly (MariaDB is up); while MariaDB is down the webhook still publishes (it needs no
database) and `mailops.store_event` retries until MariaDB is back; a worker killed mid-task
leaves its task unacknowledged, and the broker hands it out again.

The stack's broker is Redis, which has the lost-message window docs/RUNBOOK.md describes ("Lost
messages": kombu pops a message and records it as unacknowledged in a second step; a worker
SIGKILLed, or Redis crashing, between the two loses it). Two runs of this test lost 1 of about
340 acknowledged events that way, so on Redis the test counts what was lost and allows no more
than one event per fault that has that window (the worker kill and the Redis crash), printing the
count; RabbitMQ, the production broker, has no such window (tests/reliability/
test_broker_worker_kill.py asserts zero loss there).
"""

from __future__ import annotations

import http.client
import json
import threading
import time

from tests.mailops.signing import SIGNING_KEY, payload
from tests.reliability.stack import (
    Stack,
    stack_fixture,  # noqa: F401 - the `stack` fixture
    wait_until,
)

WEBHOOK = "/anymail/mailgun/tracking/"
KINDS = ("delivered", "opened", "permanent_failure", "temporary_failure", "complained")
OUTAGE = 2.0  # seconds Redis and MariaDB each stay down


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


def test_every_acknowledged_webhook_event_is_stored_once_through_worker_redis_and_database_faults(stack):
    prefix = f"hook-{int(time.time())}-"
    hooks = Webhooks(stack, prefix)
    hooks.start()
    wait_until(lambda: len(_stored(stack, prefix)) >= 30, 30, "events stored by the workers")

    # A worker SIGKILLed under load, mid-task; restarted under the same node name.
    killed = "w1@reliability"
    stack.kill_worker(killed)
    time.sleep(1)
    stack.start_worker(killed).wait_for_line(r"ready\.", timeout=90)

    # Redis crashes: the webhook stores what it is sent directly meanwhile.
    stack.redis.stop(kill=True)
    time.sleep(OUTAGE)
    stack.redis.start()
    wait_until(lambda: stack.health().status == 200, 60, "/health to pass after Redis")
    stack.restart_exited_workers()  # kombu 5.7 may exit a worker on a Redis crash (RUNBOOK)

    # MariaDB stops: the webhook keeps answering 200, the store tasks retry until it is back.
    stack.mariadb.stop()
    during_db = len(hooks.acknowledged())
    time.sleep(OUTAGE)
    answered_while_db_down = len(hooks.acknowledged()) - during_db
    stack.mariadb.start()
    wait_until(lambda: stack.health().status == 200, 60, "/health to pass after MariaDB")
    time.sleep(1)
    hooks.finish()

    acknowledged = hooks.acknowledged()
    windows = 2  # faults with Redis' lost-message window: the worker kill, the Redis crash

    def settled() -> bool:
        missing = acknowledged - set(_stored(stack, prefix))
        if not missing:
            return True
        # What is still waiting in the broker or retrying may yet arrive; wait for that too.
        return len(missing) <= windows and "waiting 0," in stack.broker_state() and not _retrying(stack)

    wait_until(
        settled,
        120,
        f"the {len(acknowledged)} acknowledged events stored (at most {windows} lost to Redis' window)",
        explain=lambda: f"{len(acknowledged - set(_stored(stack, prefix)))} missing\n{stack.outputs()}",
    )
    stored = _stored(stack, prefix)
    lost = acknowledged - set(stored)
    assert len(stored) == len(set(stored)), "an event stored twice"
    assert set(stored) <= set(hooks.answers), "an event nobody posted"
    assert answered_while_db_down > 0, "the database outage was not seen"
    refused = {status for status in hooks.answers.values() if status != 200}
    assert refused <= {503, None}, f"unclear answers: {refused}"
    print(
        f"mail webhook faults (Redis broker): {len(acknowledged)} of {len(hooks.answers)} posts "
        f"acknowledged, {len(lost)} lost in Redis' window, the rest stored once; "
        f"{answered_while_db_down} answered 200 while MariaDB was down; other answers "
        f"{sorted(map(str, refused)) or 'none'}"
    )


def _retrying(stack: Stack) -> bool:
    """A store task is still held by a worker (running or waiting for its retry)."""
    return "unacked 0 " not in stack.broker_state()
