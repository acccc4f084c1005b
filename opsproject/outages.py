"""Dependency outages during a request become a clear 503 with Retry-After, never a 500.

While MariaDB, Redis or RabbitMQ is down (a restart, a failover) a request that needs it cannot be
served; the caller should be told to come back, not shown a server error. Requests that do not
touch the dependency are unaffected and keep answering.
"""

from __future__ import annotations

import logging

from amqp.exceptions import ConnectionError as AMQPConnectionError
from amqp.exceptions import MessageNacked
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.utils.deprecation import MiddlewareMixin
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
_DEPENDENCY = (
    ((OperationalError, InterfaceError), "the database"),
    ((RedisConnectionError, RedisTimeoutError), "the cache"),
    # Celery's send_task re-raises the broker's connection errors, a publisher-confirm nack and
    # a confirm that timed out as kombu's OperationalError; the raw amqp ones reach a view
    # that publishes through kombu itself.
    ((BrokerError, AMQPConnectionError, MessageNacked), "the task queue"),
)


def dependency_of(exception: BaseException) -> str | None:
    for kinds, name in _DEPENDENCY:
        if isinstance(exception, kinds):
            return name
    return None


class DependencyOutageMiddleware(MiddlewareMixin):
    """Answers 503 for a view that failed because a backing service is unreachable."""

    def process_exception(self, request, exception):
        dependency = dependency_of(exception)
        if dependency is None:
            return None
        # The exception text may carry host names; the class is enough for the log line.
        failed = (request.method, request.path, dependency, type(exception).__name__)
        log.warning("503 for %s %s: %s unreachable (%s)", *failed)
        response = JsonResponse(
            {"detail": f"Service temporarily unavailable: {dependency} is not answering. Retry shortly."},
            status=503,
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
