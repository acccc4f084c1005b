"""Each test profile really runs on the services it names."""

import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from opsproject.celery import app


def _channel_layer_round_trip():
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.send)(channel, {"type": "probe", "n": 7})
    assert async_to_sync(layer.receive)(channel) == {"type": "probe", "n": 7}
    return layer


def _cache_round_trip():
    key = f"profile-probe-{uuid.uuid4()}"
    cache.set(key, "v", 30)
    assert cache.get(key) == "v"
    cache.delete(key)


@pytest.mark.django_db
def test_integration_profile_uses_mariadb_and_redis():
    assert connection.vendor == "mysql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT VERSION()")
        assert "MariaDB" in cursor.fetchone()[0]
    assert settings.REDIS_URL.startswith("redis://")
    assert app.conf.broker_url == settings.REDIS_URL
    assert app.connection_for_write().transport_cls == "redis"
    assert settings.CACHES["default"]["BACKEND"] == "opsproject.cache.SharedRedisCache"
    assert settings.CACHES["default"]["LOCATION"] == settings.REDIS_URL
    _cache_round_trip()
    layer = _channel_layer_round_trip()
    assert type(layer).__name__ == "RedisChannelLayer"
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    assert visibility >= 10 * 60, "must stay well above the longest retry countdown"


@pytest.mark.embedded
@pytest.mark.django_db
def test_embedded_profile_uses_sqlite_filesystem_broker_db_cache_and_memory_layer():
    assert connection.vendor == "sqlite"
    assert settings.REDIS_URL == ""
    assert app.conf.broker_url.startswith("filesystem://")
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"
    _cache_round_trip()
    layer = _channel_layer_round_trip()
    assert type(layer).__name__ == "InMemoryChannelLayer"


def test_celery_reliability_settings():
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_connection_retry_on_startup is True
    assert conf.result_backend == "queueops.results:DatabaseBackend"
    assert conf.result_backend_always_retry is True
    assert conf.timezone == "UTC" and conf.enable_utc is True
