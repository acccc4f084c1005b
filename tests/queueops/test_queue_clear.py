"""queue_clear on the Redis and the RabbitMQ broker: confirmation, --force, unknown queues, audit."""

from __future__ import annotations

import json
import os

import pytest

from audit.models import AuditEntry
from queueops.broker import queue_stats
from tests.queueops import tasks
from tests.queueops.conftest import manage
from tests.queueops.test_rabbitmq_broker import _send
from tests.support.celery_worker import child_env
from tests.support.processes import PYTHON
from tests.support.rabbitmq import vhost
from tests.support.terminal import run_in_terminal

pytestmark = pytest.mark.django_db(transaction=True)


def _fill(queue: str, count: int) -> None:
    for n in range(count):
        tasks.plain.apply_async(args=[n], queue=queue)


def _sizes(*queues: str) -> list[int]:
    return [stats.size for stats in queue_stats(list(queues))]


def test_redis_queue_clear_asks_on_a_terminal_refuses_off_one_and_purges_one_queue(queue_env):
    _fill("qo_monitor", 3)
    _fill("qo_idle", 2)
    piped = manage("queue_clear", "qo_monitor")
    assert piped.returncode == 2
    refusal = "CommandError: refusing to purge queue qo_monitor without --force: no terminal to confirm on"
    assert piped.stderr.strip() == refusal
    assert _sizes("qo_monitor", "qo_idle") == [3, 2]

    env = {**os.environ, **child_env()}
    argv = [PYTHON, "manage.py", "queue_clear", "qo_monitor"]
    code, shown = run_in_terminal(argv, env, answer=("to purge it: ", b"qo_idle\n"))
    assert code == 1 and "Not confirmed; queue qo_monitor was not purged." in shown, shown
    assert "holds 3 waiting messages" in shown
    assert _sizes("qo_monitor", "qo_idle") == [3, 2]
    code, shown = run_in_terminal(argv, env, answer=("to purge it: ", b"qo_monitor\n"))
    assert code == 0 and "Purged 3 messages from queue qo_monitor." in shown, shown
    assert _sizes("qo_monitor", "qo_idle") == [0, 2]

    forced = manage("queue_clear", "qo_idle", "--force")
    assert forced.returncode == 0 and forced.stdout.strip() == "Purged 2 messages from queue qo_idle."
    assert _sizes("qo_idle") == [0]
    # The default queue is known even when empty.
    assert manage("queue_clear", "celery", "--force").stdout.strip() == "Purged 0 messages from queue celery."

    entries = AuditEntry.objects.filter(action="queue.clear", outcome=AuditEntry.OK, target="qo_idle")
    assert entries.get().detail["purged"] == 2 and entries.get().channel == AuditEntry.COMMAND


def test_an_unknown_queue_is_a_usage_error_and_purges_nothing(queue_env):
    _fill("qo_idle", 1)
    ran = manage("queue_clear", "qo_typo", "--force")
    assert ran.returncode == 2
    assert (
        ran.stderr.strip().startswith("CommandError: unknown queue 'qo_typo' (known: ")
        and "celery" in ran.stderr
    )
    assert "Traceback" not in ran.stderr
    assert _sizes("qo_idle") == [1]


def test_an_unreachable_broker_is_one_line_and_exit_1():
    ran = manage("queue_clear", "celery", "--force", env={"CELERY_BROKER_URL": "redis://127.0.0.1:1/0"})
    assert ran.returncode == 1
    assert ran.stderr.strip().startswith("broker unreachable (") and "Traceback" not in ran.stderr


def test_rabbitmq_queue_clear_purges_one_quorum_queue():
    with vhost() as url:
        rabbit = {"CELERY_BROKER_URL": url}
        _send(url, "qo_rabbit", 3)
        _send(url, "qo_rabbit_other", 2)
        assert manage("queue_clear", "qo_rabbit", env=rabbit).returncode == 2  # no terminal, no --force
        ran = manage("queue_clear", "qo_rabbit", "--force", env=rabbit)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.strip() == "Purged 3 messages from queue qo_rabbit."
        assert manage("queue_clear", "qo_nowhere", "--force", env=rabbit).returncode == 2
        # Declared on the broker, though no setting names it: known.
        ran = manage("queue_clear", "qo_rabbit", "--force", env=rabbit)
        assert ran.stdout.strip() == "Purged 0 messages from queue qo_rabbit."
        monitor = manage("queue_monitor", "--json", "qo_rabbit:9", "qo_rabbit_other:9", env=rabbit)
        sizes = {row["queue"]: row["size"] for row in json.loads(monitor.stdout)["queues"]}
        assert (sizes["qo_rabbit"], sizes["qo_rabbit_other"]) == (0, 2)
