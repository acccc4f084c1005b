"""RabbitMQ as the broker: quorum queues, and queue sizes read by queue_monitor."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.queueops.conftest import manage
from tests.support.celery_worker import child_env
from tests.support.processes import BIN, PYTHON, REPO, running
from tests.support.rabbitmq import exchange_types, queue_types, vhost
from tests.support.waiting import wait_until

_SEND = (
    "import sys, django; django.setup(); from opsproject.celery import app; "
    "[app.send_task('queueops.probe', args=[0.0], queue=sys.argv[1]) for _ in range(int(sys.argv[2]))]"
)


@pytest.fixture
def rabbit_url():
    with vhost() as url:
        yield url


def _send_task(url: str, name: str, args: list, queue: str) -> None:
    code = (
        "import json, sys, django; django.setup(); from opsproject.celery import app; "
        "app.send_task(sys.argv[1], args=json.loads(sys.argv[2]), queue=sys.argv[3])"
    )
    env = {**os.environ, **child_env(CELERY_BROKER_URL=url), "DJANGO_SETTINGS_MODULE": "opsproject.settings"}
    subprocess.run(
        [PYTHON, "-c", code, name, json.dumps(args), queue], cwd=REPO, env=env, check=True, timeout=120
    )


def _send(url: str, queue: str, count: int) -> None:
    env = {**os.environ, **child_env(CELERY_BROKER_URL=url), "DJANGO_SETTINGS_MODULE": "opsproject.settings"}
    subprocess.run([PYTHON, "-c", _SEND, queue, str(count)], cwd=REPO, env=env, check=True, timeout=120)


def test_tasks_go_to_quorum_queues_and_queue_monitor_counts_them(rabbit_url):
    _send(rabbit_url, "qo_rabbit", 3)
    assert queue_types(rabbit_url)["qo_rabbit"] == "quorum"
    # Topic, so that native delayed delivery can bind the queue (it skips direct exchanges).
    assert exchange_types(rabbit_url)["qo_rabbit"] == "topic"

    ran = manage(
        "queue_monitor", "--json", "qo_rabbit:2", "qo_never_declared:0", env={"CELERY_BROKER_URL": rabbit_url}
    )
    assert ran.returncode == 1, ran.stderr  # qo_rabbit is over its limit of 2
    rows = {row["queue"]: row for row in json.loads(ran.stdout)["queues"]}
    assert rows["qo_rabbit"]["size"] == 3
    assert rows["qo_rabbit"]["exceeded"] is True
    # A queue nobody declared yet is empty, not an error.
    assert rows["qo_never_declared"]["size"] == 0
    assert rows["qo_never_declared"]["exceeded"] is False


def test_an_unreachable_rabbitmq_is_one_line_without_the_password():
    ran = manage("queue_monitor", env={"CELERY_BROKER_URL": "amqp://guest:s3cr3tpw@127.0.0.1:1/none"})
    assert ran.returncode == 1
    assert ran.stderr.strip().startswith("broker unreachable (")
    assert "s3cr3tpw" not in ran.stdout + ran.stderr
    assert "Traceback" not in ran.stderr


@pytest.mark.django_db(transaction=True)  # the worker stores results in the test database
def test_retries_with_backoff_come_back_through_native_delayed_delivery(rabbit_url, queue_env, tmp_path):
    runs = tmp_path / "runs"
    env = child_env(CELERY_BROKER_URL=rabbit_url, **queue_env)
    argv = [str(BIN / "celery"), "-A", "opsproject", "worker", "--loglevel=INFO", "--pool=prefork"]
    # Not the default queue: the delayed-delivery bootstep binds the `celery` queue too, which
    # only opsproject.celery's declaration at start makes exist on this fresh vhost.
    argv += ["--concurrency=1", "--without-gossip", "--without-mingle", "--queues=qo_rabbit"]
    argv.append("--include=tests.queueops.tasks")
    with running(argv, env={**os.environ, **env}) as worker:
        worker.wait_for_line(r"ready\.", timeout=120)
        _send_task(rabbit_url, "tests.queueops.flaky", [str(runs), 2], "qo_rabbit")
        wait_until(
            lambda: runs.exists() and len(runs.read_text().splitlines()) >= 3,
            120,
            "three runs",
            explain=lambda: worker.output[-4000:],
        )
        times = [float(line.split()[0]) for line in runs.read_text().splitlines()]
        assert len(times) == 3  # two failures, then the success: no run lost, none twice
        # QUEUE_BACKOFF=1,2: each retry waited its countdown on the broker, not in the worker.
        assert times[1] - times[0] >= 1 and times[2] - times[1] >= 2
        log = worker.output
        assert "CRITICAL" not in log and "Failed to setup delayed delivery" not in log
        assert "Failed to bind queue" not in log and "Direct exchanges are not supported" not in log
    # The delay levels dead-letter by themselves (classic), not through a quorum queue's
    # dead-letter worker, which RabbitMQ leaves dead when it fails to start (docs/RUNBOOK.md).
    kinds = queue_types(rabbit_url)
    delays = {kinds[name] for name in kinds if name.startswith("celery_delayed_")}
    assert delays == {"classic"} and sum(name.startswith("celery_delayed_") for name in kinds) == 28


@pytest.mark.django_db(transaction=True)
def test_the_last_try_becomes_a_failed_job_and_queue_retry_sends_it_again(rabbit_url, queue_env, tmp_path):
    from queueops.models import FailedJob

    runs, flag = tmp_path / "runs", tmp_path / "flag"
    env = {**os.environ, **child_env(CELERY_BROKER_URL=rabbit_url, **queue_env)}
    argv = [str(BIN / "celery"), "-A", "opsproject", "worker", "--loglevel=INFO", "--pool=prefork"]
    argv += ["--concurrency=1", "--without-gossip", "--without-mingle", "--queues=celery,qo_rabbit"]
    argv.append("--include=tests.queueops.tasks")
    with running(argv, env=env) as worker:
        worker.wait_for_line(r"ready\.", timeout=120)
        _send_task(rabbit_url, "tests.queueops.fails_unless", [str(runs), str(flag)], "qo_rabbit")
        job = wait_until(
            lambda: FailedJob.objects.filter(task="tests.queueops.fails_unless").first(),
            120,
            "the failed job after the last try",
            explain=lambda: worker.output[-3000:],
        )
        assert job.attempts == 3 and len(runs.read_text().splitlines()) == 3
        # The queue it was sent to, not the key a countdown delivered it with.
        assert (job.queue, job.exchange, job.routing_key) == ("qo_rabbit", "", "qo_rabbit")
        # Retries declared no queue named after a countdown's key.
        assert not [name for name in queue_types(rabbit_url) if name.startswith(("0.", "1."))]
        flag.write_text("fixed")
        ran = manage("queue_retry", str(job.pk), env={"CELERY_BROKER_URL": rabbit_url})
        assert ran.returncode == 0, ran.stderr
        assert not FailedJob.objects.filter(pk=job.pk).exists()
        wait_until(lambda: len(runs.read_text().splitlines()) == 4, 60, "the retried run")


@pytest.mark.django_db(transaction=True)
def test_queue_probe_round_trips_through_rabbitmq(rabbit_url, queue_env):
    env = {**os.environ, **child_env(CELERY_BROKER_URL=rabbit_url, **queue_env)}
    argv = [str(BIN / "celery"), "-A", "opsproject", "worker", "--loglevel=INFO", "--pool=prefork"]
    argv += ["--concurrency=1", "--without-gossip", "--without-mingle", "--queues=celery,qo_probe"]
    with running(argv, env=env) as worker:
        worker.wait_for_line(r"ready\.", timeout=120)
        rabbit = {"CELERY_BROKER_URL": rabbit_url}
        for queue in ("celery", "qo_probe"):
            ok = manage("queue_probe", "--queue", queue, "--timeout", "60", env=rabbit)
            assert ok.returncode == 0, ok.stderr + worker.output[-3000:]
            assert ok.stdout.startswith(f"queue {queue}: round trip ")
        failing = manage("queue_probe", "--fail", env=rabbit)
        assert failing.returncode == 0, failing.stderr + worker.output[-3000:]
        assert "after 3 attempts" in failing.stdout
    silent = manage("queue_probe", "--queue", "qo_idle", "--timeout", "1.5", env=rabbit)
    assert silent.returncode == 1 and "no answer within 1.5 s" in silent.stderr
