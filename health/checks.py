"""The infrastructure checks: database, cache, storage and migrations.

Database and cache checks talk through clients of their own whose connect and socket
timeouts are the check's deadline, so a black-holed server frees the check's thread about
when the probe gives up on it, instead of after the application's longer timeouts.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable
from functools import lru_cache, partial
from math import ceil

from django.conf import settings
from django.core.cache import caches
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.dispatch import receiver
from django.utils.module_loading import import_string

from health.registry import health_check
from health.results import FAIL, PASS, WARN, Result
from health.runner import current_timeout


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _failure(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


# --- database -------------------------------------------------------------------------------


def _connection(alias: str, timeout: float):
    """A new connection to `alias` whose client gives up after about `timeout` seconds.

    Not the request's persistent connection: a check must see whether new connections
    work, and must not leave a hung socket in a thread that serves requests.
    """
    base = connections[alias]
    settings_dict = copy.deepcopy(base.settings_dict)
    options = settings_dict.setdefault("OPTIONS", {})
    seconds = max(1, ceil(timeout))  # MySQL's client timeouts are whole seconds
    if base.vendor == "mysql":
        for key in ("connect_timeout", "read_timeout", "write_timeout"):
            options[key] = min(options.get(key) or seconds, seconds)
    elif base.vendor == "postgresql":
        options["connect_timeout"] = min(options.get("connect_timeout") or seconds, seconds)
    elif base.vendor == "sqlite":
        options["timeout"] = min(options.get("timeout") or timeout, timeout)
    return type(base)(settings_dict, alias)


def _measured(component: str, alias: str, probe: Callable[[], str]) -> Result:
    """Time `probe`, which returns what is wrong ("" when nothing is): a datastore's responseTime."""
    entry = {"component": component, "measurement": "responseTime", "component_id": alias}
    entry["component_type"] = "datastore"
    started = time.perf_counter()
    try:
        problem = probe()
    except Exception as error:
        problem = _failure(error)
    if problem:
        return Result(**entry, status=FAIL, output=problem)
    return Result(**entry, observed_value=_ms_since(started), observed_unit="ms")


@health_check("database", measurement="responseTime")
def database() -> list[Result]:
    """`SELECT 1` on every configured database alias, on a new connection, timed."""
    return [_measured("database", alias, partial(_select_one, alias)) for alias in connections]


def _select_one(alias: str) -> str:
    connection = _connection(alias, current_timeout())
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            row = cursor.fetchone()
    finally:
        connection.close()
    return "" if row is not None and row[0] == 1 else f"SELECT 1 returned {row!r}"


# --- cache ----------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _cache(alias: str, timeout: float):
    """A client of cache `alias` with the check's socket timeouts, kept between runs.

    Single flight means one run at a time uses it, and Redis clients are thread-safe anyway.
    """
    params = copy.deepcopy(caches.settings[alias])
    backend = params.pop("BACKEND")
    location = params.pop("LOCATION", "")
    if "redis" in backend.lower():
        options = params.setdefault("OPTIONS", {})
        for key in ("socket_connect_timeout", "socket_timeout"):
            options[key] = min(options.get(key) or timeout, timeout)
    return import_string(backend)(location, params)


@receiver(setting_changed)
def _forget_clients(setting: str, **kwargs) -> None:
    if setting == "CACHES":
        _cache.cache_clear()


@health_check("cache", measurement="responseTime")
def cache() -> list[Result]:
    """Write, read back and delete a unique key in every configured cache, timed."""
    return [_measured("cache", alias, partial(_set_get_delete, alias)) for alias in settings.CACHES]


def _set_get_delete(alias: str) -> str:
    key, value = f"health:{uuid.uuid4().hex}", uuid.uuid4().hex
    client = _cache(alias, current_timeout())
    client.set(key, value, timeout=30)
    read = client.get(key)
    client.delete(key)
    return "" if read == value else "read back a different value"


# --- storage --------------------------------------------------------------------------------


@health_check("storage", measurement="responseTime")
def storage() -> Result:
    """Write, read back and delete a small file on the default storage, timed."""
    return _measured("storage", "default", _write_read_delete)


def _write_read_delete() -> str:
    content = uuid.uuid4().hex.encode()
    store = storages["default"]
    name = store.save(f"health/{uuid.uuid4().hex}.txt", ContentFile(content))
    try:
        with store.open(name, "rb") as file:
            read = file.read()
    finally:
        store.delete(name)
    gone = not store.exists(name)
    if read != content:
        return "read back different content"
    return "" if gone else "the file is still there after delete"


# --- migrations -----------------------------------------------------------------------------


@health_check("migrations", measurement="unapplied")
def migrations() -> Result:
    """How many migrations are not applied to the default database: any is a warning."""
    entry = {"component": "migrations", "measurement": "unapplied", "component_id": DEFAULT_DB_ALIAS}
    connection = _connection(DEFAULT_DB_ALIAS, current_timeout())
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as error:
        return Result(**entry, status=FAIL, output=_failure(error))
    finally:
        connection.close()
    names = [f"{migration.app_label}.{migration.name}" for migration, backwards in plan if not backwards]
    if not names:
        return Result(**entry, status=PASS, observed_value=0, observed_unit="migrations")
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return Result(
        **entry,
        status=WARN,
        observed_value=len(names),
        observed_unit="migrations",
        output=f"unapplied: {shown}",
    )
