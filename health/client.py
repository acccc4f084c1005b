"""The client side of the probes: fetch a health endpoint over HTTP and read its answer.

Shared by `manage.py health --url` and `manage.py health_gate`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit, urlunsplit

from health.results import STATUSES

CONTENT_TYPE = "application/health+json"


class Unreachable(Exception):
    """No health answer: refused, timed out, or something that is not a health endpoint."""


class BadURL(ValueError):
    pass


def health_url(url: str, component: str = "") -> str:
    """The endpoint for `url` (a server root means its /health), or for one component under it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadURL(f"not an http(s) URL: {url!r}")
    path = parts.path.rstrip("/") or "/health"
    if component:
        path = f"{path}/{component}"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def fetch(url: str, *, token: str = "", timeout: float, fresh: bool = False) -> tuple[int, dict]:
    """GET a health endpoint: its HTTP status and its health+json document."""
    if fresh:
        url += ("&" if urlsplit(url).query else "?") + "fresh=1"
    request = urllib.request.Request(url, headers={"Accept": CONTENT_TYPE})  # noqa: S310 - http(s) only
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:  # 503 and 404 carry a health document too
        status, body = error.code, error.read()
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise Unreachable(f"{url}: {reason}") from None
    try:
        document = json.loads(body)
        if not isinstance(document, dict) or document.get("status") not in STATUSES:
            raise ValueError
    except ValueError:
        raise Unreachable(f"{url}: HTTP {status}, not a health document") from None
    return status, document


def failing(document: dict) -> list[str]:
    """The keys of a document's failing checks (its own status if it names none)."""
    keys = [
        key
        for key, entries in document.get("checks", {}).items()
        if any(entry.get("status") == "fail" for entry in entries)
    ]
    return keys or ([document.get("output", "status fail")] if document.get("status") == "fail" else [])


def describe(document: dict) -> list[str]:
    """One line per check entry, then the overall status: what an operator reads."""
    lines = []
    for key, entries in document.get("checks", {}).items():
        for entry in entries:
            value = entry.get("observedValue")
            fields = [
                f"{entry.get('status', '?'):<5}",
                key,
                entry.get("componentId", ""),
                "" if value is None else f"{value} {entry.get('observedUnit', '')}".strip(),
                entry.get("output", ""),
            ]
            lines.append("  ".join(field for field in fields if field))
    lines.append(f"status: {document.get('status')}")
    return lines
