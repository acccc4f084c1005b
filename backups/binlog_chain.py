"""How far the newest full backup can be rolled forward, and the binlog-gap alert about it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from backups import notify
from backups.binlog_files import sequence, sibling


@dataclass
class Chain:
    alias: str
    backup_id: str | None
    backup_at: datetime | None
    position_file: str | None
    reach: datetime | None  # the last moment the newest backup can be rolled forward to
    gap: str = ""  # logs inside the chain that were purged before shipping
    shipped: int = 0


def chain(alias: str = "default") -> Chain:
    """From BackupRecord/BinlogArchive rows: how far the newest full backup can be rolled forward."""
    from backups.models import BackupRecord, BinlogArchive

    record = (
        BackupRecord.objects.filter(status=BackupRecord.OK, database_alias=alias)
        .order_by("-started_at")
        .first()
    )
    archives = {a.sequence: a for a in BinlogArchive.objects.filter(alias=alias)}
    if record is None:
        return Chain(alias, None, None, None, None, shipped=len(archives))
    position = (record.manifest or {}).get("position") or {}
    state = Chain(
        alias, record.backup_id, record.started_at, position.get("file"), None, shipped=len(archives)
    )
    if not state.position_file:
        return state
    number = sequence(state.position_file)
    while number in archives:
        state.reach = archives[number].last_event_at
        number += 1
    later = sorted(n for n in archives if n > number)
    if later:  # a log inside the chain is missing while later ones were shipped
        first = archives[later[0]]
        state.gap = first.gap_before or ", ".join(
            sibling(state.position_file, n) for n in range(number, later[0])
        )
    return state


def check_chain(alias: str, found: list[str] | None = None) -> Chain:
    """Raise the gap alert (a gap found now, or one inside the newest backup's chain), or resolve it."""
    state = chain(alias)
    gap = ", ".join(found) if found else state.gap
    reach = state.reach.isoformat() if state.reach else state.backup_at
    summary = f"Binary log(s) of database {alias!r} purged before they were shipped"
    detail = (
        f"{gap} never reached storage. Backup {state.backup_id} can be rolled forward to {reach} "
        "at most. Take a full backup (manage.py backup_run) and keep binary logs on the server "
        "well beyond BACKUP_BINLOG_INTERVAL (expire_logs_days / binlog_expire_logs_seconds)."
    )
    notify.report(notify.BINLOG_GAP, bool(gap), summary, detail)
    return state
