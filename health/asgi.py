"""Answers health probes in front of Django's ASGI handler: no middleware, no thread hops, any Host.

The probe URLs (whatever health/urls.py routes to the health views) get the views' own answers
(health/views.py); a request with a session cookie and no valid token goes on to Django, whose
view can tell a staff session from an anonymous one. Everything else passes through untouched.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from django.conf import settings
from django.http.cookie import parse_cookie
from django.urls import Resolver404, resolve

from health import views

_PREFIXES = ("/up", "/health")


class HealthProbes:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            path, root = scope["path"], scope.get("root_path", "")
            path = path[len(root) :] if root and path.startswith(root) else path
            if path.startswith(_PREFIXES) and (answer := await self._answer(path, scope)) is not None:
                await _send(answer, scope, send)
                return
        await self.app(scope, receive, send)

    async def _answer(self, path: str, scope) -> views.Answer | None:
        try:
            match = resolve(path)
        except Resolver404:
            return None
        if match.func is views.liveness:
            return views.LIVE
        if match.func is views.up:
            return views.UP
        if match.func is not views.readiness:
            return None
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
        authorised = settings.DEBUG or views.token_matches(headers.get("authorization", ""))
        if not authorised and settings.SESSION_COOKIE_NAME in parse_cookie(headers.get("cookie", "")):
            return None  # perhaps staff: Django's view looks the session up
        fresh = views.wants_fresh(
            parse_qs(scope.get("query_string", b"").decode("latin-1")).get("fresh", [""])[0]
        )
        component = match.kwargs.get("component")
        return await views.readiness_answer(component, authorised=authorised, fresh=fresh)


async def _send(answer: views.Answer, scope, send) -> None:
    headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers()]
    headers.append((b"content-length", str(len(answer.body)).encode()))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else answer.body})
