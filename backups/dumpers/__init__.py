"""Picks the dumper for a Django database alias by its vendor."""

from __future__ import annotations

from django.db import connections

from backups.dumpers.base import Dumper
from backups.errors import UsageError


def dumper_for(alias: str) -> Dumper:
    if alias not in connections:
        raise UsageError(f"no database alias {alias!r} in DATABASES (have: {', '.join(connections)})")
    vendor = connections[alias].vendor
    if vendor == "mysql":
        from backups.dumpers.mysql import MySQLDumper

        return MySQLDumper(alias)
    if vendor == "postgresql":
        from backups.dumpers.postgresql import PostgreSQLDumper

        return PostgreSQLDumper(alias)
    if vendor == "sqlite":
        from backups.dumpers.sqlite import SQLiteDumper

        return SQLiteDumper(alias)
    raise UsageError(f"database alias {alias!r} is {vendor}, which backups cannot dump")
