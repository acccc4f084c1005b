"""Retention: 30 daily + 12 monthly over two years of synthetic dates, applied to real storage."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from backups import signing
from backups.manifest import Manifest
from backups.models import BackupRecord
from backups.retention import Candidate, decide

NOW = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)


def two_years_of_backups() -> list[Candidate]:
    """Two runs a day (02:00 and a manual one at 14:30) for 730 days back from NOW."""
    items = []
    for day in range(730):
        base = NOW - timedelta(days=day)
        items.append(Candidate(f"{base:%Y%m%d}-night", base))
        items.append(Candidate(f"{base:%Y%m%d}-manual", base + timedelta(hours=12, minutes=30)))
    return items


def test_two_years_keep_exactly_30_daily_and_12_monthly():
    decision = decide(two_years_of_backups(), keep_daily=30, keep_monthly=12)
    daily = sorted(i for i, why in decision.keep.items() if why.startswith("daily"))
    monthly = sorted(i for i, why in decision.keep.items() if why.startswith("monthly"))
    assert len(daily) == 30 and len(monthly) == 12 and len(decision.keep) == 42
    # The latest of each of the 30 newest days: the 14:30 run, days 2026-10-31 .. 2026-11-29.
    assert daily[0] == "20261031-manual" and daily[-1] == "20261129-manual"
    # The latest of each of the 12 months before those days: the last day of Oct 2025 .. Sep 2026.
    assert monthly[0] == "20251031-manual" and monthly[-1] == "20260930-manual"
    assert len(decision.delete) == 730 * 2 - 42


def test_the_newest_backup_is_always_kept_and_nothing_is_lost_with_few_backups():
    few = [Candidate("a", NOW - timedelta(days=400)), Candidate("b", NOW - timedelta(days=800))]
    assert decide(few, keep_daily=1, keep_monthly=0).keep == {"a": "daily 2025-10-25"}
    assert decide(few, keep_daily=30, keep_monthly=12).delete == []
    assert decide([], 30, 12).keep == {}


def test_days_and_months_are_utc_calendar_days():
    from zoneinfo import ZoneInfo

    tokyo = ZoneInfo("Asia/Tokyo")
    # 2026-11-29 08:00 in Tokyo is 2026-11-28 23:00 UTC: the same UTC day as the 20:00 UTC run, later.
    items = [
        Candidate("utc-evening", datetime(2026, 11, 28, 20, 0, tzinfo=UTC)),
        Candidate("tokyo-morning", datetime(2026, 11, 29, 8, 0, tzinfo=tokyo)),
    ]
    assert decide(items, keep_daily=5, keep_monthly=0).keep == {"tokyo-morning": "daily 2026-11-28"}


def _write_manifest(store, backup_id: str, started: datetime) -> None:
    manifest = Manifest(
        id=backup_id,
        archive=f"{backup_id}.sql.zst.age",
        started_at=started,
        finished_at=started + timedelta(minutes=3),
        database={"alias": "default", "vendor": "mysql", "version": "10.11", "name": "ops"},
        dump={"tool": "mariadb-dump", "version": "x", "flags": []},
        raw_size=10,
        stored_size=5,
        sha256="0" * 64,
        recipients=["age1example"],
    )
    (store / f"{backup_id}.manifest.json").write_text(json.dumps(signing.sign(manifest.to_dict())))
    (store / manifest.archive).write_bytes(b"12345")


@pytest.mark.django_db
def test_prune_applies_the_policy_to_storage(local_backups, capsys):
    local_backups.mkdir(parents=True)
    for day in range(730):
        started = NOW - timedelta(days=day)
        _write_manifest(local_backups, f"{started:%Y%m%dT%H%M%SZ}-default-{day:06x}", started)
    (local_backups / "20261129T050000Z-default-abcdef.sql.zst.age.partial").write_bytes(b"being written")
    call_command("backup_list", "--refresh")
    assert capsys.readouterr().err.startswith("refreshed from storage: 730 added")
    assert BackupRecord.objects.count() == 730

    call_command("backup_prune", "--dry-run", "--json")
    dry = json.loads(capsys.readouterr().out)
    assert len(dry["kept"]) == 42 and len(dry["deleted"]) == 730 - 42
    assert len(list(local_backups.glob("*.manifest.json"))) == 730  # a dry run deletes nothing

    call_command("backup_prune", "--json")
    done = json.loads(capsys.readouterr().out)
    left = sorted(p.name.removesuffix(".manifest.json") for p in local_backups.glob("*.manifest.json"))
    assert left == sorted(done["kept"]) and len(left) == 42
    assert len(list(local_backups.glob("*.sql.zst.age"))) == 42
    assert BackupRecord.objects.count() == 42
    # A fresh partial upload (a backup still being written) is left alone.
    assert (local_backups / "20261129T050000Z-default-abcdef.sql.zst.age.partial").exists()
