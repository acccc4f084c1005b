"""Dropped websocket messages reported by realtime in any process add up in the shared counter."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest
from django.test import Client

from operations import realtime_drops
from realtime import drops
from tests.support.celery_worker import child_env
from tests.support.processes import PYTHON, REPO

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_queues")]

OTHER_PROCESS = """
import threading, django
django.setup()
from realtime import drops
drops.note(drops.SLOW_CLIENT, 2)
drops.note(drops.LAYER_OVER_CAPACITY, 4)
drops.flush(force=True)
for thread in threading.enumerate():
    if thread.name == "ops-realtime-drops":
        thread.join(10)
"""


def wait_for_pushes() -> None:
    """Join the threads that push drop summaries to the shared counter (each lives briefly)."""
    for thread in threading.enumerate():
        if thread.name == "ops-realtime-drops":
            thread.join(10)


@pytest.fixture(autouse=True)
def clean_drops():
    realtime_drops.reset()
    drops.flush(force=True)  # anything pending from other tests goes out before we start
    # Waiting for the push itself: a fixed sleep let a slow push land after the reset below.
    wait_for_pushes()
    realtime_drops.reset()
    yield
    wait_for_pushes()
    realtime_drops.reset()


def wait_for_total(expected: int) -> dict[str, int]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        totals = realtime_drops.totals()
        if sum(totals.values()) >= expected:
            return totals
        time.sleep(0.05)
    raise AssertionError(f"dropped totals stayed at {realtime_drops.totals()}, expected {expected}")


def test_drops_of_two_processes_are_summed_and_exported(settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    done = subprocess.run(
        [PYTHON, "-c", OTHER_PROCESS],
        cwd=REPO,
        env={**child_env(), "DJANGO_SETTINGS_MODULE": "opsproject.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    drops.note(drops.SLOW_CLIENT, 3)
    drops.flush(force=True)

    assert wait_for_total(9) == {"slow_client": 5, "layer_over_capacity": 4}
    body = Client().get("/metrics").content.decode()
    assert 'ops_websocket_dropped_messages_total{reason="slow_client"} 5.0' in body
    assert 'ops_websocket_dropped_messages_total{reason="layer_over_capacity"} 4.0' in body


def test_a_summary_in_an_unknown_shape_counts_nothing():
    assert realtime_drops.parse("slow_client=2, garbage, x=, =3, layer_over_capacity=1") == {
        "slow_client": 2,
        "layer_over_capacity": 1,
    }
