"""The embedded profile (SQLite, filesystem broker, database cache, no Redis): counters, history, metrics."""

from __future__ import annotations

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from operations import history, outcomes
from opsproject.celery import app
from tests.operations import tasks
from tests.queueops.conftest import purge

pytestmark = [pytest.mark.embedded, pytest.mark.django_db, pytest.mark.usefixtures("clean_queues")]

QUEUE = "ops_embedded"


@pytest.fixture
def own_queue(settings):
    settings.QUEUE_ALERTS = {QUEUE: (10, 60)}
    purge(QUEUE)
    yield QUEUE
    purge(QUEUE)


def test_outcomes_history_and_metrics_work_without_redis(settings, own_queue, tmp_path):
    assert not settings.REDIS_URL
    marks = str(tmp_path / "runs")
    tasks.succeed.apply(args=[marks])
    tasks.succeed.apply(args=[marks])
    tasks.fail.apply(args=[marks])
    assert outcomes.totals() == {
        ("tests.operations.succeed", "success"): 2,
        ("tests.operations.fail", "failure"): 1,
    }
    assert outcomes.last_minutes(60)["success"] == 2

    app.send_task("tests.operations.succeed", args=[marks], queue=own_queue)
    rows = {row.queue: row for row in history.sample()}
    assert rows[own_queue].size == 1

    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    response = Client().get("/metrics")
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.content.decode())}
    outcome = {tuple(sorted(s.labels.items())): s.value for s in families["ops_task_outcomes"].samples}
    assert outcome[(("state", "failure"), ("task", "tests.operations.fail"))] == 1
    sizes = {s.labels["queue"]: s.value for s in families["ops_queue_size"].samples}
    assert sizes[own_queue] == 1
    errors = {s.labels["part"]: s.value for s in families["ops_scrape_error"].samples}
    assert all(value == 0 for value in errors.values()), errors
