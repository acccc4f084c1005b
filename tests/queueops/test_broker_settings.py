"""CELERY_BROKER_URL: Redis by default, RabbitMQ (quorum queues, confirms) when amqp://."""

import json
import os
import subprocess

from tests.opsproject.test_production_settings import _error_lines, _start
from tests.support.processes import PYTHON, REPO

_SHOW = (
    "import json, django; django.setup(); from opsproject.celery import app; c = app.conf; "
    "print(json.dumps({'url': c.broker_url, 'queue_type': c.task_default_queue_type, "
    "'detect': c.worker_detect_quorum_queues, 'options': c.broker_transport_options, "
    "'delivery': c.task_default_delivery_mode, "
    "'delayed': c.broker_native_delayed_delivery_queue_type, "
    "'publish_retry': c.task_publish_retry_policy}))"
)


def _celery_conf(**variables: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL", "DJANGO_ENV", "VAR_DIR")}
    env.update(variables)
    done = subprocess.run(
        [PYTHON, "-c", _SHOW], cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_unset_the_broker_is_redis():
    conf = _celery_conf(REDIS_URL="redis://127.0.0.1:6379/9")
    assert conf["url"] == "redis://127.0.0.1:6379/9"
    assert conf["options"]["visibility_timeout"] > 0
    assert "confirm_publish" not in conf["options"]


def test_amqp_gets_quorum_queues_confirms_and_native_delays():
    conf = _celery_conf(
        REDIS_URL="redis://127.0.0.1:6379/9", CELERY_BROKER_URL="amqp://u:p@127.0.0.1:5672/ops"
    )
    assert conf["url"] == "amqp://u:p@127.0.0.1:5672/ops"
    assert conf["queue_type"] == "quorum"
    assert conf["detect"] is True
    # A publish blocked by a resource alarm fails in bounded time (tests/reliability/
    # test_rabbitmq_alarm.py): socket reads and writes time out, one retry on a new connection.
    assert conf["options"] == {"confirm_publish": True, "read_timeout": 3.0, "write_timeout": 3.0}
    assert conf["publish_retry"]["max_retries"] == 1
    assert conf["delivery"] == "persistent"
    assert conf["delayed"] == "classic"  # docs/RUNBOOK.md, "Queues on RabbitMQ"


def test_the_publish_timeout_is_set_by_broker_publish_timeout_and_bad_values_are_refused():
    amqp = {"REDIS_URL": "redis://127.0.0.1:6379/9", "CELERY_BROKER_URL": "amqp://u:p@127.0.0.1:5672/ops"}
    conf = _celery_conf(**amqp, BROKER_PUBLISH_TIMEOUT="7.5")
    assert conf["options"]["read_timeout"] == conf["options"]["write_timeout"] == 7.5
    for bad in ("0", "-1", "61", "nan", "inf", "soon"):
        done = _start({"CELERY_BROKER_URL": amqp["CELERY_BROKER_URL"], "BROKER_PUBLISH_TIMEOUT": bad})
        errors = _error_lines(done)
        assert len(errors) == 1 and "BROKER_PUBLISH_TIMEOUT must be" in errors[0], (bad, done.stderr)


def test_production_refuses_another_scheme_without_showing_the_url():
    done = _start({"CELERY_BROKER_URL": "sqs://AKIDEXAMPLE:topsecretpw@queue"})
    errors = _error_lines(done)
    assert len(errors) == 1, done.stderr
    assert "CELERY_BROKER_URL must be redis://, rediss://, amqp:// or amqps://, not sqs" in errors[0]
    assert "topsecretpw" not in done.stderr


def test_production_accepts_amqp():
    done = _start({"CELERY_BROKER_URL": "amqps://ops:pw@rabbitmq.internal:5671/ops"})
    assert done.returncode == 0, done.stderr
