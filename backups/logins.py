"""Which database login each backup job connects with, so each runs with least privilege.

Only user, password, host and port come from the BACKUP_*_DATABASE_URL settings; the database
stays the alias's. Unset, each falls back to the alias's own login. Grants:
compose/mariadb-init/01-users.sh.
"""

from __future__ import annotations

import copy

import environ
from django.conf import settings
from django.db import connections

from backups.dumpers import dumper_for
from backups.dumpers.base import Dumper
from backups.errors import UsageError

_LOGIN_KEYS = ("USER", "PASSWORD", "HOST", "PORT")
# Spellings of "this machine" in a URL; an empty host (or a socket path) is the local server too.
_LOCAL_HOSTS = ("", "localhost", "127.0.0.1", "::1")


def _parse(name: str, url: str) -> dict:
    try:
        return environ.Env.db_url_config(url)
    except Exception:  # the URL holds a password: name the variable, never the value
        raise UsageError(f"{name} is not a database URL") from None


def _login(alias: str, name: str) -> dict | None:
    """The alias's settings with the login of the URL in setting `name`, or None when unset."""
    url = getattr(settings, name)
    if not url or alias not in connections:
        return None
    base = connections[alias].settings_dict
    given = _parse(name, url)
    if given.get("ENGINE") != base.get("ENGINE"):
        if connections[alias].vendor != "mysql":
            return None  # the logins are MariaDB users; other vendors keep the alias's login
        raise UsageError(f"{name} is not a URL of the same database vendor as database {alias!r}")
    merged = copy.deepcopy(base)
    merged.update({key: given[key] for key in _LOGIN_KEYS if given.get(key) not in (None, "")})
    return merged


def backup_dumper(alias: str = "default") -> Dumper:
    """The dumper that backs up `alias` and ships its binlogs, as the backup user."""
    return dumper_for(alias, _login(alias, "BACKUP_DATABASE_URL"))


def restore_dumper(alias: str = "default") -> Dumper:
    """The dumper that restores into a database other than the live one, as the drill user."""
    return dumper_for(alias, _login(alias, "BACKUP_RESTORE_DATABASE_URL"))


def pitr_dumper(alias: str = "default") -> Dumper:
    """The dumper that replays binary logs into a restored database, as the pitr user."""
    return dumper_for(alias, _login(alias, "BACKUP_PITR_DATABASE_URL"))


def drill_target(alias: str = "default") -> tuple[Dumper, str | None]:
    """(dumper, staging database) of a drill; no staging database: a scratch one, dropped after."""
    url = settings.BACKUP_DRILL_DATABASE_URL
    if not url:
        return restore_dumper(alias), None
    given = _parse("BACKUP_DRILL_DATABASE_URL", url)
    if not given.get("NAME"):
        raise UsageError("BACKUP_DRILL_DATABASE_URL names no database (mysql://user:pw@host:3306/NAME)")
    dumper_for(alias)  # UsageError for an unknown alias
    if given.get("ENGINE") != connections[alias].settings_dict.get("ENGINE"):
        raise UsageError(
            f"BACKUP_DRILL_DATABASE_URL is not a server of the same vendor as database {alias!r}"
        )
    live = connections[alias].settings_dict
    if _same_database(given, live):
        # A drill empties its staging database with no maintenance mode: this would replace
        # every row written since the backup.
        raise UsageError(
            f"BACKUP_DRILL_DATABASE_URL names database {alias!r}'s own database {given['NAME']!r}: "
            "a drill empties its staging database; name a separate one"
        )
    staging = {**copy.deepcopy(live), **given}
    return dumper_for(alias, staging), str(given["NAME"])


def _same_database(given: dict, live: dict) -> bool:
    """Whether a URL's settings name the live database: same name, server and port."""

    def server(settings: dict) -> tuple[str, str]:
        host = str(settings.get("HOST") or "")
        host = "" if host.startswith("/") or host.lower() in _LOCAL_HOSTS else host.lower()
        return host, str(settings.get("PORT") or 3306)

    return str(given.get("NAME")) == str(live.get("NAME")) and server(given) == server(live)
