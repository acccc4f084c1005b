"""Picks the dumper for a Django database alias by its vendor."""

from __future__ import annotations

from django.db import connections

from backups.dumpers.base import Dumper
from backups.errors import UsageError


def dumper_for(alias: str, settings_dict: dict | None = None) -> Dumper:
    """The dumper of `alias`; `settings_dict` connects as another login (backups/logins.py)."""
    if alias not in connections:
        raise UsageError(f"no database alias {alias!r} in DATABASES (have: {', '.join(connections)})")
    vendor = connections[alias].vendor
    if vendor == "mysql":
        from backups.dumpers.mysql import MySQLDumper

        return MySQLDumper(alias, settings_dict)
    if vendor == "postgresql":
        from backups.dumpers.postgresql import PostgreSQLDumper

        return PostgreSQLDumper(alias, settings_dict)
    if vendor == "sqlite":
        from backups.dumpers.sqlite import SQLiteDumper

        return SQLiteDumper(alias, settings_dict)
    raise UsageError(f"database alias {alias!r} is {vendor}, which backups cannot dump")
