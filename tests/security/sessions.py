"""What the attack tests share: a real uvicorn on the test database, and an HTTP client that logs
in with a real session cookie (and a CSRF token, as a browser sends one)."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from django.contrib.auth.models import User
from django.test import Client

from tests.health.support import database_url, uvicorn


@contextmanager
def server(var_dir: Path, **env: str):
    """opsproject.asgi under a real uvicorn on the test database; yields its base URL."""
    with uvicorn({"DATABASE_URL": database_url(), **env}, var_dir) as base:
        yield base


class Session:
    """One user's browser: their session cookie and a CSRF token, over real HTTP."""

    def __init__(self, base: str, user: User | None = None):
        self.base = base
        self.csrf = secrets.token_hex(16)  # 32 characters: a valid cookie secret
        self.cookies = {"csrftoken": self.csrf}
        if user is not None:
            client = Client()
            client.force_login(user)
            self.cookies["sessionid"] = client.cookies["sessionid"].value

    def call(self, method: str, path: str, body=None, *, form: bool = False, headers=None):
        """(status, JSON body or text) of one request."""
        data, content_type = None, None
        if body is not None and form:
            from urllib.parse import urlencode

            data, content_type = urlencode(body, doseq=True).encode(), "application/x-www-form-urlencoded"
        elif body is not None:
            data, content_type = json.dumps(body).encode(), "application/json"
        request = urllib.request.Request(f"{self.base}{path}", data=data, method=method.upper())
        request.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        request.add_header("X-CSRFToken", self.csrf)
        if content_type:
            request.add_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(request, timeout=60) as response:
                return response.status, _parsed(response.read(), response.headers)
        except urllib.error.HTTPError as error:
            return error.code, _parsed(error.read(), error.headers)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 302 is an answer to assert, not to follow


def _parsed(raw: bytes, headers):
    if "json" in (headers.get("Content-Type") or ""):
        return json.loads(raw or b"null")
    return raw.decode(errors="replace")
