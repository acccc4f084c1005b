"""/metrics and the dashboard's realtime panel read realtime's own totals (realtime.dropped_messages,
realtime.open_connections): what any process shared is what operators see."""

from __future__ import annotations

import pytest
from django.test import Client

import keyvalue
from operations import snapshot
from realtime import drops, servers

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clean_realtime():
    drops.share()
    drops.reset()
    keyvalue.store().delete(servers.BOARD)
    yield
    drops.reset()
    keyvalue.store().delete(servers.BOARD)


def test_shared_drops_and_open_connections_are_exported(settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    drops.note(drops.SLOW_CLIENT, 5)
    drops.note(drops.LAYER_OVER_CAPACITY, 4)
    drops.share()
    servers.beat("one", "specific.one!a", 3)
    servers.beat("two", "specific.two!b", 4)

    body = Client().get("/metrics").content.decode()
    assert 'ops_websocket_dropped_messages_total{reason="slow_client"} 5.0' in body
    assert 'ops_websocket_dropped_messages_total{reason="layer_over_capacity"} 4.0' in body
    assert "ops_websocket_connections 7.0" in body
    panel = snapshot.realtime()
    assert panel == {
        "connections": 7,
        "dropped": {"slow_client": 5, "layer_over_capacity": 4},
        "dropped_total": 9,
    }
