"""The probe endpoints: readiness (`/health`, `/health/<component>`), liveness and `/up`.

The views are async: under ASGI they await the runner while checks run in its threads, so a
hung dependency holds no event-loop time and no request thread. Liveness touches nothing.
Details (values, outputs, ids, times) go to holders of `HEALTH_TOKEN` and to staff sessions;
everyone else gets statuses, and nobody gets versions, settings or tracebacks.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_safe

from health import runner
from health.registry import checks_of
from health.results import FAIL, PASS

CONTENT_TYPE = "application/health+json"
logger = logging.getLogger("health")


def _response(document: dict, status: int, cache_control: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(document, separators=(",", ":")), content_type=CONTENT_TYPE, status=status
    )
    response["Cache-Control"] = cache_control
    return response


def _has_token(request: HttpRequest) -> bool:
    expected = settings.HEALTH_TOKEN
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(token.strip().encode(), expected.encode())


def _is_staff(request: HttpRequest) -> bool:
    try:
        return bool(request.user.is_active and request.user.is_staff)
    finally:
        connections.close_all()  # this thread's connections only: it is not a request thread


async def _authorised(request: HttpRequest) -> bool:
    """Token holders and staff sessions; in DEBUG (development only) everyone."""
    if settings.DEBUG or _has_token(request):
        return True
    if settings.SESSION_COOKIE_NAME not in request.COOKIES or not hasattr(request, "user"):
        return False
    # Loading the session and user needs the database, which may be what is down: look in a
    # thread of its own, and give up at the probe deadline like any check.
    lookup = sync_to_async(_is_staff, thread_sensitive=False)(request)
    try:
        return await asyncio.wait_for(lookup, timeout=float(settings.HEALTH_TIMEOUT))
    except Exception:
        return False


async def _probe(request: HttpRequest, checks) -> HttpResponse:
    authorised = await _authorised(request)
    fresh = authorised and request.GET.get("fresh") in ("1", "true", "yes")
    try:
        report = await runner.arun(checks, fresh=fresh)
    except ImproperlyConfigured:
        logger.exception("HEALTH_CHECKS is misconfigured")
        return _response({"status": FAIL, "output": "misconfigured"}, 503, "no-store")
    response = _response(
        report.as_json(details=authorised),
        503 if report.status == FAIL else 200,
        f"max-age={report.max_age}" + (", private" if authorised else ""),
    )
    patch_vary_headers(response, ["Authorization"])
    return response


@require_safe
async def readiness(request: HttpRequest) -> HttpResponse:
    """Every configured check; `HEALTH_CRITICAL` components decide between fail and warn."""
    return await _probe(request, None)


@require_safe
async def component(request: HttpRequest, component: str) -> HttpResponse:
    """The checks of one component; its own failure is a 503 whether critical or not."""
    try:
        checks = checks_of(component)
    except ImproperlyConfigured:
        return await _probe(request, None)  # answers the misconfiguration
    if not checks:
        return _response({"status": FAIL, "output": "unknown component"}, 404, "no-store")
    return await _probe(request, checks)


@require_safe
async def liveness(request: HttpRequest) -> HttpResponse:
    """The process answers: no dependency is asked."""
    return _response({"status": PASS}, 200, "no-store")


@require_safe
async def up(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain; charset=utf-8", headers={"Cache-Control": "no-store"})
