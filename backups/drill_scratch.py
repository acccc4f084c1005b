"""Drills' scratch databases: each is locked while its drill runs; unlocked leftovers are dropped.

The server frees a GET_LOCK when its connection ends, also when the drill is SIGKILLed, so a
scratch database whose lock is free belongs to no live drill. MariaDB only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError

from backups.dumpers.base import SCRATCH_SUFFIX_DIGITS, Dumper
from backups.errors import BackupError, UsageError

log = logging.getLogger(__name__)
SUFFIX = re.compile(f"[0-9a-f]{{{SCRATCH_SUFFIX_DIGITS}}}")
# The lock's session idles while the drill runs: a server wait_timeout shorter than a drill would
# end it and free the lock under a live drill. 31536000 s is the server's maximum.
_IDLE_SECONDS = 31536000


def is_scratch(dumper: Dumper, name: str) -> bool:
    """Whether `name` is shaped like a drill's scratch database (which a later drill may drop)."""
    prefix = dumper.scratch_name("")
    return name.startswith(prefix) and bool(SUFFIX.fullmatch(name[len(prefix) :]))


def refuse_scratch_name(dumper: Dumper, name: str) -> None:
    """UsageError for a restore target a later drill would take for a dead drill's leftover."""
    if is_scratch(dumper, name):
        raise UsageError(
            f"database {name!r} is named like a drill's scratch database ({dumper.scratch_name('')}"
            "<8 hex digits>), which the next drill drops; choose another name"
        )


@contextmanager
def held(dumper: Dumper, name: str | None) -> Iterator[None]:
    """Hold the lock of scratch database `name` (None: a staging drill, nothing to hold)."""
    if name is None or dumper.vendor != "mysql":
        yield
        return
    connection = dumper.connection_to("")
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SET SESSION wait_timeout = {_IDLE_SECONDS}")
        if not _try_lock(connection, name):
            raise BackupError(f"scratch database {name} is locked by another drill")
        yield
    finally:
        connection.close()  # ends the session: the server frees its lock


def drop_abandoned(dumper: Dumper) -> list[str]:
    """Drop the scratch databases of `dumper`'s database that no running drill holds."""
    if dumper.vendor != "mysql":
        return []
    connection = dumper.connection_to("")
    dropped = []
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT schema_name FROM information_schema.schemata")
            names = [row[0] for row in cursor.fetchall()]
            for name in names:
                if not is_scratch(dumper, name):
                    continue
                if not _try_lock(connection, name):
                    continue  # a live drill's
                try:
                    cursor.execute(f"DROP DATABASE IF EXISTS {connection.ops.quote_name(name)}")
                    dropped.append(name)
                except DatabaseError as error:  # one it cannot drop must not stop every drill
                    log.warning("scratch database %s of a dead drill could not be dropped: %s", name, error)
                finally:
                    cursor.execute("SELECT RELEASE_LOCK(%s)", [name])
    finally:
        connection.close()
    return dropped


def _try_lock(connection, name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT GET_LOCK(%s, 0)", [name])
        return cursor.fetchone()[0] == 1
