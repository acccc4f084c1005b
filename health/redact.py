"""Keeps secrets out of health output: every configured password, key and token is masked.

A check's output is often an exception message, and client libraries put whatever they like
there (a URL with its password, say). The runner passes every output through `redact` before
it is cached, logged or shown, so no check has to remember to.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings

MAX_OUTPUT = 500  # characters: an output is a hint for an operator, not a log
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|API_?KEY|PRIVATE|CREDENTIAL|(^|_)KEY$", re.IGNORECASE)
_URL_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
_MIN_SECRET = 4  # shorter values would mask ordinary words
_NOT_SECRET = {"PASSWORD_HASHERS"}  # class paths, named like a secret


def redact(text: str, limit: int | None = MAX_OUTPUT) -> str:
    """`text` with credentials in URLs and every configured secret value replaced by ***.

    Cut to `limit` characters; log lines (opsproject.logs) pass None to keep tracebacks whole.
    """
    text = _URL_USERINFO.sub("***@", text)
    for secret in _secrets():
        text = text.replace(secret, "***")
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def forget() -> None:
    """Read the settings again on the next call (they changed)."""
    _secrets.cache_clear()


@lru_cache(maxsize=1)
def _secrets() -> tuple[str, ...]:
    found: set[str] = set()
    for name in dir(settings):
        if name.isupper() and name not in _NOT_SECRET:
            _collect(name, getattr(settings, name, None), found, depth=0)
    # Longest first, so a secret that contains another is masked whole.
    return tuple(sorted(found, key=len, reverse=True))


def _collect(name: str, value, found: set[str], depth: int) -> None:
    if depth > 6:
        return
    if isinstance(value, str):
        if _SECRET_NAME.search(name) and len(value) >= _MIN_SECRET:
            found.add(value)
        if "://" in value:
            try:
                password = urlsplit(value).password
            except ValueError:
                password = None
            if password and len(password) >= _MIN_SECRET:
                found.add(password)
    elif isinstance(value, dict):
        for key, item in value.items():
            _collect(str(key), item, found, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(name, item, found, depth + 1)
