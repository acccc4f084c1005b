"""A drill's staging database (BACKUP_DRILL_DATABASE_URL) is never the live database itself.

A drill empties its staging database and loads a backup into it, with no maintenance mode:
pointed at the app's own database (DATABASE_URL copied over), the weekly drill would silently
replace every row written since the last backup. It is refused in one line before anything runs.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import override_settings

from backups import logins
from backups.errors import UsageError


def _url(host: str, port: str, name: str) -> str:
    live = connection.settings_dict
    password = f":{live['PASSWORD']}" if live["PASSWORD"] else ""
    return f"mysql://{live['USER']}{password}@{host}:{port}/{name}"


@pytest.mark.parametrize("host", ["same", "localhost"])
def test_a_staging_url_naming_the_live_database_is_refused(host):
    live = connection.settings_dict
    if live["HOST"] not in ("", "localhost", "127.0.0.1", "::1"):
        pytest.skip("the live server is not local: the host spelling variant does not apply")
    spelled = (live["HOST"] or "127.0.0.1") if host == "same" else host
    url = _url(spelled, str(live["PORT"] or 3306), live["NAME"])
    with override_settings(BACKUP_DRILL_DATABASE_URL=url), pytest.raises(UsageError) as refused:
        logins.drill_target("default")
    message = str(refused.value)
    assert "BACKUP_DRILL_DATABASE_URL" in message and live["NAME"] in message
    assert "\n" not in message and (live["PASSWORD"] or "\0") not in message


def test_a_staging_database_of_another_name_is_taken():
    live = connection.settings_dict
    url = _url(live["HOST"] or "127.0.0.1", str(live["PORT"] or 3306), f"{live['NAME']}_staging")
    with override_settings(BACKUP_DRILL_DATABASE_URL=url):
        _dumper, staging = logins.drill_target("default")
    assert staging == f"{live['NAME']}_staging"
