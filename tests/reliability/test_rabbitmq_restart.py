"""RabbitMQ killed and started again mid-stream: every enqueue it acknowledged runs.

A publisher sends tasks one after another, noting each send the broker confirmed (publisher
confirms: the message is on the quorum queue's disk) and each that raised; the node is
SIGKILLed mid-stream and started again on its data. The worker that ran throughout reconnects
without a restart and runs every confirmed task; an unconfirmed one may run or not.
"""

from __future__ import annotations

import os

import pytest

from tests.support.celery_worker import child_env
from tests.support.processes import BIN, PYTHON, ManagedProcess
from tests.support.rabbitmq_server import RabbitMQServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.reliability

SENDS = 400

_PUBLISH = """
import sys, time, django
django.setup()
from opsproject.celery import app
path, notes, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
for n in range(count):
    key = f"k{n}"
    try:
        app.send_task("reliability.broker_mark", args=[path, key, 0.0], queue="celery")
        note = f"acked {key}"
    except Exception as exc:
        note = f"refused {key} {type(exc).__name__}"
    with open(notes, "a") as handle:
        handle.write(note + "\\n")
    time.sleep(0.02)  # a stream, not a burst: the outage falls in its middle
"""


def _notes(path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _done(path) -> set[str]:
    return {line.split()[1] for line in _notes(path) if line.startswith("done ")}


def test_every_acknowledged_enqueue_runs_across_a_broker_crash(tmp_path):
    node = RabbitMQServer(tmp_path / "rabbitmq")
    node.start()
    marks, notes = tmp_path / "marks", tmp_path / "notes"
    env = {
        **os.environ,
        **child_env(CELERY_BROKER_URL=node.url),
        "QUEUE_ALERTS": "none",
        "DJANGO_SETTINGS_MODULE": "opsproject.settings",
    }
    argv = [str(BIN / "celery"), "-A", "opsproject", "worker", "--loglevel=INFO", "--pool=prefork"]
    argv += ["--concurrency=2", "--without-gossip", "--without-mingle", "--queues=celery"]
    argv += ["--include=tests.reliability.broker_tasks"]
    worker = publisher = None
    try:
        worker = ManagedProcess(argv, env=env)
        worker.wait_for_line(r"ready\.", timeout=120)
        publisher = ManagedProcess([PYTHON, "-c", _PUBLISH, str(marks), str(notes), str(SENDS)], env=env)
        wait_until(
            lambda: len(_notes(notes)) >= 60, 120, "the stream under way", explain=lambda: publisher.output
        )
        node.stop(kill=True)
        wait_until(
            lambda: any(line.startswith("refused") for line in _notes(notes)),
            60,
            "an enqueue refused while the broker is down",
            explain=lambda: publisher.output,
        )
        node.start()
        wait_until(
            lambda: publisher.proc.poll() is not None,
            300,
            "the stream's end",
            explain=lambda: publisher.output,
        )
        assert publisher.proc.returncode == 0, publisher.output
        acked = {line.split()[1] for line in _notes(notes) if line.startswith("acked ")}
        refused = [line for line in _notes(notes) if line.startswith("refused ")]
        assert acked and refused
        # The worker was never restarted: it reconnected by itself.
        wait_until(
            lambda: acked <= _done(marks),
            120,
            "every acknowledged enqueue run",
            explain=lambda: f"not run: {sorted(acked - _done(marks))[:20]}\n{worker.output[-3000:]}",
        )
        assert worker.proc.poll() is None
        print(f"\nRabbitMQ crash mid-stream: {len(acked)} acknowledged, all ran; {len(refused)} refused")
    finally:
        for process in (publisher, worker):
            if process is not None:
                process.stop()
        node.stop()
