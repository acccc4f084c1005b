"""Dropped websocket messages counted by realtime in any process add up in its shared counter,
which /metrics exports."""

from __future__ import annotations

import subprocess

import pytest
from django.test import Client

from realtime import drops
from tests.support.celery_worker import child_env
from tests.support.processes import PYTHON, REPO, free_port
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_queues")]

# Exits right after its flush: the writer thread still finishes the shared write first.
OTHER_PROCESS = """
import django
django.setup()
from realtime import drops
drops.note(drops.SLOW_CLIENT, 2)
drops.note(drops.LAYER_OVER_CAPACITY, 4)
drops.flush(force=True)
"""


@pytest.fixture(autouse=True)
def clean_drops():
    drops.flush(force=True)  # anything pending from other tests goes out before we start
    drops.settle()
    drops.reset()
    yield
    drops.settle()
    drops.reset()


def test_drops_of_two_processes_are_summed_and_exported(settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    done = subprocess.run(
        [PYTHON, "-c", OTHER_PROCESS],
        cwd=REPO,
        env={**child_env(), "DJANGO_SETTINGS_MODULE": "opsproject.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert drops.totals() == {"slow_client": 2, "layer_over_capacity": 4}, "the exited process's counts"
    drops.note(drops.SLOW_CLIENT, 3)
    drops.flush(force=True)

    expected = {"slow_client": 5, "layer_over_capacity": 4}
    wait_until(
        lambda: drops.totals() == expected,
        timeout=60,
        what=f"shared drop totals {expected}",
        interval=0.05,
        explain=lambda: f"they are {drops.totals()}",
    )
    body = Client().get("/metrics").content.decode()
    assert 'ops_websocket_dropped_messages_total{reason="slow_client"} 5.0' in body
    assert 'ops_websocket_dropped_messages_total{reason="layer_over_capacity"} 4.0' in body


def test_counts_whose_shared_write_failed_are_shared_at_the_next_report(settings):
    reachable = settings.REDIS_URL
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens: the write fails
    drops.note(drops.SLOW_CLIENT, 2)
    drops.flush(force=True)
    drops.settle()
    settings.REDIS_URL = reachable
    assert drops.totals()["slow_client"] == 0

    drops.note(drops.SLOW_CLIENT, 1)
    drops.flush(force=True)
    wait_until(
        lambda: drops.totals()["slow_client"] == 3,
        timeout=60,
        what="the failed write's 2 and the new 1 in the shared totals",
        interval=0.05,
        explain=lambda: f"they are {drops.totals()}",
    )
