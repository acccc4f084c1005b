"""The request id: taken from X-Request-ID or made, bound to the request's log context, returned.

Every log line written while serving the request carries `request_id` (opsproject.logs), and so
do the Celery tasks it publishes (opsproject.celery puts it in the task headers) and the
broadcasts it sends (realtime.broadcasting puts it in the channel-layer message): one search
follows a reply from the API to the mail task to the websocket event. A client's id is used only
when it is well-formed (opsproject.logs.REQUEST_ID); anything else gets a fresh one.
"""

from __future__ import annotations

import logging
import time

import structlog
from django.conf import settings
from django.utils.encoding import escape_uri_path

from opsproject.logs import request_id_from

log = logging.getLogger("opsproject.requests")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_from(request.headers.get(settings.REQUEST_ID_HEADER))
        request.request_id = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response[settings.REQUEST_ID_HEADER] = request_id
            status, took = response.status_code, round((time.monotonic() - started) * 1000, 1)
            extra = {"status": status, "duration_ms": took}
            if (user := getattr(request, "user", None)) is not None and user.is_authenticated:
                extra["user_id"] = user.pk
            log.info("%s %s %s", request.method, escape_uri_path(request.path), status, extra=extra)
            return response
        finally:
            structlog.contextvars.clear_contextvars()
