"""The backlog alert on RabbitMQ: the oldest wait is the canary's, and it fires and recovers."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from alerts.notices import Alert
from tests.support.celery_worker import child_env
from tests.support.processes import BIN, PYTHON, REPO, running
from tests.support.rabbitmq import vhost
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

_CHECK = "import json, django; django.setup(); from queueops.backlog import check; print(json.dumps(check()))"


def _check(env: dict[str, str]) -> dict:
    done = subprocess.run(
        [PYTHON, "-c", _CHECK], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])["qo_rabbit"]


def test_the_backlog_alert_fires_on_the_canary_wait_and_recovers(queue_env):
    with vhost() as url:
        env = {
            **os.environ,
            **child_env(CELERY_BROKER_URL=url, QUEUE_ALERTS="qo_rabbit:100:1", **queue_env),
            "DJANGO_SETTINGS_MODULE": "opsproject.settings",
        }
        first = _check(env)  # no worker: the canary this check sends waits
        assert first["breach"] is False
        seen = wait_until(
            lambda: (lambda s: s if s["breach"] else None)(_check(env)), 60, "the backlog alert"
        )
        assert seen["size"] >= 1 and seen["oldest_age"] > 1
        alert = Alert.objects.get(open_key="queue.backlog.qo_rabbit")
        assert "oldest waiting" in alert.summary

        argv = [str(BIN / "celery"), "-A", "opsproject", "worker", "--loglevel=INFO", "--pool=solo"]
        argv += ["--without-gossip", "--without-mingle", "--queues=celery,qo_rabbit"]
        with running(argv, env=env) as worker:
            worker.wait_for_line(r"ready\.", timeout=120)
            wait_until(
                lambda: not _check(env)["breach"], 60, "recovery", explain=lambda: worker.output[-3000:]
            )
        assert not Alert.objects.filter(open_key="queue.backlog.qo_rabbit").exists()
