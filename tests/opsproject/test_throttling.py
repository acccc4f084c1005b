"""The API's rate limits let requests through while the cache (Redis) does not answer."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.test import override_settings
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from opsproject.throttling import AnonThrottle, UserThrottle
from tests.support.processes import free_port

pytestmark = pytest.mark.django_db


def unreachable_cache() -> dict:
    # A port nothing listens on: every cache call fails as during a Redis outage.
    return {
        "default": {
            "BACKEND": "opsproject.cache.SharedRedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


def request_by(user) -> Request:
    request = Request(APIRequestFactory().get("/api/tickets/"))
    request.user = user
    return request


@pytest.mark.parametrize("throttle_class", [AnonThrottle, UserThrottle])
def test_a_cache_outage_lets_requests_through(throttle_class, caplog):
    user = AnonymousUser() if throttle_class is AnonThrottle else User.objects.create_user("reader")
    with override_settings(CACHES=unreachable_cache()):
        assert throttle_class().allow_request(request_by(user), APIView()) is True


def test_the_rate_still_applies_while_the_cache_answers():
    from django.core.cache import cache

    user = User.objects.create_user("busy")
    throttle = UserThrottle()
    throttle.rate = "2/minute"
    throttle.num_requests, throttle.duration = throttle.parse_rate(throttle.rate)
    cache.delete(throttle.get_cache_key(request_by(user), APIView()))
    answers = [throttle.allow_request(request_by(user), APIView()) for _ in range(3)]
    assert answers == [True, True, False]
