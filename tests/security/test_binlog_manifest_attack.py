"""Point-in-time recovery replays only binlogs whose manifests this installation signed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.test.utils import override_settings

from backups import catalog, pitr, signing
from backups.errors import UsageError
from tests.backups.test_pitr import _backup_manifest, _binlog_manifest

STARTED = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
BACKUP_ID = f"{STARTED:%Y%m%dT%H%M%SZ}-default-abcdef"


def _store(folder, how: str):
    """One signed backup at binlog.000001 and two shipped logs, the second written `how`."""
    (folder / "binlogs" / "default").mkdir(parents=True)
    manifest = signing.sign(_backup_manifest(BACKUP_ID, STARTED, "binlog.000001"))
    (folder / f"{BACKUP_ID}.manifest.json").write_text(json.dumps(manifest))
    for number in (1, 2):
        item = _binlog_manifest(number, STARTED.replace(hour=2 + 8 * (number - 1)))
        data = item.to_dict()
        if number == 1 or how == "signed":
            data = signing.sign(data)
        elif how == "another key":
            with override_settings(BACKUP_MANIFEST_KEY="someone-elses-key-Jx8Qp2Lm5Wv9Rt3Zk7"):
                data = signing.sign(data)
        (folder / item.name).write_text(json.dumps(data))


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["signed", "unsigned", "another key"])
def test_a_planted_binlog_is_never_replayed(local_backups, how):
    _store(local_backups, how)
    backup = catalog.resolve(BACKUP_ID)
    assert backup.authenticated
    if how == "signed":
        assert [item.file for item in pitr.plan(backup, None).logs] == ["binlog.000001", "binlog.000002"]
    elif how == "unsigned":
        with pytest.raises(UsageError, match="unsigned"):
            pitr.plan(backup, None)
        # An operator who knows the old logs are genuine can still roll forward.
        assert len(pitr.plan(backup, None, allow_unsigned=True).logs) == 2
    else:
        # Not listed at all: the plan stops where the genuine logs end.
        assert [item.file for item in pitr.plan(backup, None).logs] == ["binlog.000001"]
        with pytest.raises(UsageError, match=r"past the last shipped binlog event.*end of binlog\.000001"):
            pitr.plan(backup, STARTED.replace(hour=12))
