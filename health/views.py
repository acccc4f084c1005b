"""The probe endpoints: readiness (`/health`, `/health/<component>`), liveness and `/up`.

Each answer is an `Answer` built once by an async function and served two ways: by these Django
views (health/urls.py), which also recognise staff sessions, and by `health.asgi.HealthProbes`
in front of Django (docs/ARCHITECTURE.md, "Health"). The answers await the runner, so a hung
dependency holds no event-loop time and no request thread. Details (values, outputs, ids,
times) go to holders of `HEALTH_TOKEN` and to staff sessions; nobody gets versions, settings
or tracebacks.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from health import runner
from health.registry import checks_of
from health.results import FAIL, PASS
from opsproject.secret_values import matches

CONTENT_TYPE = "application/health+json"
logger = logging.getLogger("health")


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = CONTENT_TYPE
    cache_control: str = "no-store"
    vary_authorization: bool = False

    @classmethod
    def of(cls, document: dict, status: int, cache_control: str = "no-store", **kwargs) -> Answer:
        body = json.dumps(document, separators=(",", ":")).encode()
        return cls(status, body, cache_control=cache_control, **kwargs)

    def headers(self) -> list[tuple[str, str]]:
        headers = [
            ("Content-Type", self.content_type),
            ("Cache-Control", self.cache_control),
            ("X-Content-Type-Options", "nosniff"),
        ]
        if self.vary_authorization:
            headers.append(("Vary", "Authorization"))
        return headers

    def response(self) -> HttpResponse:
        response = HttpResponse(self.body, status=self.status)
        for name, value in self.headers():
            response[name] = value
        return response


def token_matches(authorization: str) -> bool:
    """`Authorization: Bearer <HEALTH_TOKEN>` (or HEALTH_TOKEN_PREVIOUS during a rotation), compared
    in constant time; never without a token."""
    scheme, _, token = authorization.partition(" ")
    if not settings.HEALTH_TOKEN or scheme.lower() != "bearer":
        return False
    return matches(token.strip(), settings.HEALTH_TOKEN, settings.HEALTH_TOKEN_PREVIOUS)


def wants_fresh(value: str | None) -> bool:
    return value in ("1", "true", "yes")


# --- the answers ------------------------------------------------------------------------------


async def _probe_answer(checks, *, authorised: bool, fresh: bool) -> Answer:
    try:
        report = await runner.arun(checks, fresh=authorised and fresh)
    except ImproperlyConfigured:
        logger.exception("HEALTH_CHECKS is misconfigured")
        return Answer.of({"status": FAIL, "output": "misconfigured"}, 503)
    return Answer.of(
        report.as_json(details=authorised),
        503 if report.status == FAIL else 200,
        f"max-age={report.max_age}" + (", private" if authorised else ""),
        vary_authorization=True,
    )


async def readiness_answer(component: str | None = None, *, authorised: bool, fresh: bool) -> Answer:
    """Every configured check, where `HEALTH_CRITICAL` components decide between fail and warn;
    or the checks of one `component`, whose own failure is a 503 whether critical or not."""
    try:
        checks = None if component is None else checks_of(component)
    except ImproperlyConfigured:
        checks = None  # the whole probe says misconfigured
    if checks == []:
        return Answer.of({"status": FAIL, "output": "unknown component"}, 404)
    return await _probe_answer(checks, authorised=authorised, fresh=fresh)


LIVE = Answer.of({"status": PASS}, 200)
UP = Answer(200, b"ok", content_type="text/plain; charset=utf-8")


# --- Django views -----------------------------------------------------------------------------


def _is_staff(request: HttpRequest) -> bool:
    try:
        return bool(request.user.is_active and request.user.is_staff)
    finally:
        connections.close_all()  # this thread's connections only: it is not a request thread


async def _authorised(request: HttpRequest) -> bool:
    """Token holders and staff sessions; in DEBUG (development only) everyone."""
    if settings.DEBUG or token_matches(request.headers.get("Authorization", "")):
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


@require_safe
async def readiness(request: HttpRequest, component: str | None = None) -> HttpResponse:
    authorised = await _authorised(request)
    fresh = wants_fresh(request.GET.get("fresh"))
    return (await readiness_answer(component, authorised=authorised, fresh=fresh)).response()


@require_safe
async def liveness(request: HttpRequest) -> HttpResponse:
    """The process answers: no dependency is asked."""
    return LIVE.response()


@require_safe
async def up(request: HttpRequest) -> HttpResponse:
    return UP.response()
