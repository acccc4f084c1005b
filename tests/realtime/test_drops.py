"""Dropped websocket messages: realtime counts its own (the layer's ChannelFull, slow clients),
and the counts of every process add up in one shared counter, exact once `share()` returns."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import uuid

import pytest
from channels.layers import get_channel_layer

import keyvalue
from realtime import abroadcast, drops, servers
from tests.realtime.test_operations import layer_on
from tests.support.celery_worker import child_env
from tests.support.processes import PYTHON, REPO, free_port

pytestmark = pytest.mark.django_db

# Another process: counts, shares, exits. share() returns once its counts are stored.
OTHER_PROCESS = """
import django
django.setup()
from realtime import drops
drops.note(drops.SLOW_CLIENT, 2)
drops.note(drops.LAYER_OVER_CAPACITY, 4)
drops.share()
"""


@pytest.fixture(autouse=True)
def clean_drops():
    drops.share()  # anything counted by earlier tests goes out before we start
    drops.reset()
    yield
    drops.reset()


def test_drops_of_two_processes_are_summed():
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
    assert drops.totals()["slow_client"] == 2, "counted here, not shared yet"
    drops.share()
    assert drops.totals() == {"slow_client": 5, "layer_over_capacity": 4}


def test_counts_whose_shared_write_failed_are_shared_at_the_next_share(settings):
    reachable = settings.REDIS_URL
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens: the write fails
    drops.note(drops.SLOW_CLIENT, 2)
    drops.share()
    settings.REDIS_URL = reachable
    assert drops.totals()["slow_client"] == 0

    drops.note(drops.SLOW_CLIENT, 1)
    drops.share()
    assert drops.totals()["slow_client"] == 3, "the failed write's 2 and the new 1"


def test_a_server_channel_over_capacity_is_counted_from_the_layers_channel_full(
    settings, caplog, monkeypatch
):
    monkeypatch.setattr(drops, "_last_logged", None)  # a summary is due at the first drop
    settings.CHANNEL_LAYERS = layer_on(settings.REDIS_URL, capacity=2, prefix=f"drops-{uuid.uuid4().hex[:8]}")
    settings.REALTIME_DROP_LOG_INTERVAL = 3600  # one summary line for the whole test
    caplog.set_level(logging.WARNING, "realtime.drops")
    keyvalue.store().delete(servers.BOARD)  # no server of an earlier test takes the broadcasts
    servers.beat("never-reads", "unread.channel", 0)  # a live server that never reads its channel

    async def overfill():
        for n in range(12):
            await abroadcast("drops", "n", {"n": n})
        await get_channel_layer().flush()

    try:
        asyncio.run(overfill())
    finally:
        servers.forget("never-reads")
    assert drops.totals() == {"layer_over_capacity": 10, "slow_client": 0}, "12 sent, 2 fit"
    lines = [record.getMessage() for record in caplog.records if record.name == "realtime.drops"]
    # The first drop is logged at once; the other 9 wait for the next line, an interval later.
    assert len(lines) == 1 and "layer_over_capacity=1" in lines[0], lines
