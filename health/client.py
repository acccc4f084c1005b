"""The client side of the probes: fetch a health endpoint over HTTP and read its answer.

Shared by `manage.py health --url` and `manage.py health_gate`.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit, urlunsplit

from health.results import STATUSES

CONTENT_TYPE = "application/health+json"
MAX_BODY = 1 << 20  # far above any health document: a larger answer is not one
TEXT_FIELDS = ("output", "componentId", "observedUnit")


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
        try:
            response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310
        except urllib.error.HTTPError as error:  # 503 and 404 carry a health document too
            response = error
        with response:
            status, body = response.status, response.read(MAX_BODY + 1)
    except (http.client.HTTPException, OSError) as error:  # URLError is an OSError
        reason = getattr(error, "reason", None) or f"{type(error).__name__}: {error}"
        raise Unreachable(f"{url}: {reason}") from None
    if len(body) > MAX_BODY:
        raise Unreachable(f"{url}: HTTP {status}, an answer over {MAX_BODY} bytes is not a health document")
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        document = None
    problem = shape_error(document)
    if problem:
        raise Unreachable(f"{url}: HTTP {status}, not a health document ({problem})")
    return status, document


def shape_error(document) -> str:
    """What makes a parsed answer no health+json document ("" when it is one): callers trust it."""
    if not isinstance(document, dict) or document.get("status") not in STATUSES:
        return "no status of " + "/".join(STATUSES)
    checks = document.get("checks", {})
    if not isinstance(document.get("output", ""), str) or not isinstance(checks, dict):
        return "output not a string or checks not an object"
    for key, entries in checks.items():
        if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
            return f"checks {key[:80]!r} not a list of objects"
        for entry in entries:
            if entry.get("status") not in STATUSES or any(
                not isinstance(entry.get(name, ""), str) for name in TEXT_FIELDS
            ):
                return f"checks {key[:80]!r}: an entry without a status or with a field not a string"
    return ""


def one_line(text: str, limit: int = 500) -> str:
    """`text` on one line of at most `limit` characters: what a server sent may hold anything."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
