"""Beat on RabbitMQ: a real `celery beat` sends a periodic task through RabbitMQ and a worker runs it."""

from __future__ import annotations

import os

import pytest
from django_celery_results.models import TaskResult

from keyvalue import store
from scheduler.leadership import LEADER_KEY
from scheduler.periodic import PeriodicJob, every
from scheduler.sync import sync_jobs
from tests.scheduler.beat_support import sends, start_beat
from tests.support.celery_worker import child_env
from tests.support.processes import BIN, running
from tests.support.rabbitmq import queue_types, vhost
from tests.support.waiting import wait_until

JOB = "tests.rabbit_every_second"


@pytest.mark.django_db(transaction=True)
def test_beat_sends_a_periodic_task_through_rabbitmq_and_a_worker_runs_it():
    sync_jobs([PeriodicJob(JOB, task="tests.noop", schedule=every(1))])
    store().delete(LEADER_KEY)
    with vhost() as url:
        env = {**os.environ, **child_env(CELERY_BROKER_URL=url, QUEUE_ALERTS="none")}
        argv = [str(BIN / "celery"), "-A", "opsproject", "worker", "--loglevel=INFO", "--pool=prefork"]
        argv += ["--concurrency=1", "--without-gossip", "--without-mingle", "--queues=celery"]
        argv.append("--include=tests.scheduler.scheduler_tasks")
        with running(argv, env=env) as worker:
            worker.wait_for_line(r"ready\.", timeout=120)
            beat = start_beat("beat-rabbit", 3.0, 1.0, CELERY_BROKER_URL=url, QUEUE_ALERTS="none")
            try:
                wait_until(
                    lambda: TaskResult.objects.filter(task_name="tests.noop", status="SUCCESS").count() >= 2,
                    120,
                    "two beat sends run by the worker",
                    explain=lambda: f"beat:\n{beat.output[-2000:]}\nworker:\n{worker.output[-2000:]}",
                )
            finally:
                beat.stop()
        assert sends(beat, job=JOB), beat.output[-2000:]
        assert "CRITICAL" not in worker.output and "ERROR" not in beat.output
        assert queue_types(url)["celery"] == "quorum"
