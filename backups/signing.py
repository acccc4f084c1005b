"""Authenticating manifests: an HMAC-SHA256 with BACKUP_MANIFEST_KEY over their canonical JSON.

The bucket never holds the key: whoever can only write to it cannot make a manifest (and,
through its sha256, an archive) that gets restored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings

from backups.errors import IntegrityError, UsageError

FIELD = "mac"
SCHEME = "hmac-sha256:"


def _dev_key() -> str:
    path = Path(settings.VAR_DIR) / "backup-dev-manifest-key.txt"
    try:
        # O_EXCL: two processes racing here must not end up with different keys.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as file:
        key = secrets.token_urlsafe(48)
        file.write(key + "\n")
    return key


def _keys() -> list[bytes]:
    """The signing key first, then the previous one while a rotation lasts."""
    current = settings.BACKUP_MANIFEST_KEY
    if not current:
        if settings.PRODUCTION:  # settings.py refuses to start without it; never sign with nothing
            raise UsageError("BACKUP_MANIFEST_KEY is not set: manifests cannot be signed or checked")
        current = _dev_key()
    return [key.encode() for key in (current, settings.BACKUP_MANIFEST_KEY_PREVIOUS) if key]


def canonical(data: dict[str, Any]) -> bytes:
    """The bytes the MAC covers: every field but the MAC, keys sorted, no whitespace, ASCII."""
    unsigned = {key: value for key, value in data.items() if key != FIELD}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _mac(key: bytes, data: dict[str, Any]) -> str:
    return SCHEME + hmac.new(key, canonical(data), hashlib.sha256).hexdigest()


def sign(data: dict[str, Any]) -> dict[str, Any]:
    """`data` with its MAC, made with the current key."""
    return {**data, FIELD: _mac(_keys()[0], data)}


def check(data: dict[str, Any], name: str) -> bool:
    """True when `data` carries a valid MAC, False when it carries none; IntegrityError otherwise."""
    presented = data.get(FIELD) if isinstance(data, dict) else None
    if presented is None:
        return False
    if not isinstance(presented, str):
        raise IntegrityError(f"manifest {name} failed authentication (BACKUP_MANIFEST_KEY): malformed MAC")
    found = False
    for key in _keys():  # every key compared, in constant time
        found |= hmac.compare_digest(presented.encode("utf-8", "surrogatepass"), _mac(key, data).encode())
    if not found:
        raise IntegrityError(
            f"manifest {name} failed authentication (BACKUP_MANIFEST_KEY): not written by this "
            "installation's backups, or changed since"
        )
    return True
