"""The maintenance flag: on while a restore replaces the live database.

Kept in the cache (every web host sees it) and in a file under VAR_DIR (survives the embedded
profile's database cache being reloaded by the very restore that set it). Either means "on".
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

log = logging.getLogger("backups")

KEY = "backups:maintenance"


def _file() -> Path:
    return Path(settings.VAR_DIR) / "maintenance.json"


def _shared_cache() -> bool:
    """Whether the cache is worth asking: the database cache (embedded, one host) is not."""
    return not settings.CACHES["default"]["BACKEND"].endswith("DatabaseCache")


def enable(reason: str) -> dict:
    state = {"reason": reason, "since": timezone.now().isoformat()}
    _file().write_text(json.dumps(state))
    try:
        cache.set(KEY, state, timeout=None)
    except Exception as error:  # the file still holds the flag on this host
        log.warning("maintenance: could not set the flag in the cache: %s", type(error).__name__)
    return state


def disable() -> None:
    _file().unlink(missing_ok=True)
    try:
        cache.delete(KEY)
    except Exception as error:
        log.warning("maintenance: could not clear the flag in the cache: %s", type(error).__name__)


def state() -> dict | None:
    """The flag's state ({reason, since}) when on, else None."""
    try:
        return json.loads(_file().read_text())
    except FileNotFoundError:
        pass
    except (OSError, ValueError):
        return {"reason": "maintenance flag file unreadable", "since": ""}
    if not _shared_cache():
        return None
    try:
        return cache.get(KEY)
    except Exception:
        # A cache outage is not a maintenance window; the cache health check reports it.
        return None


def active() -> bool:
    return state() is not None
