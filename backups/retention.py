"""Which backups to keep: the latest of each of the newest N days and M months before them.

Pure functions over (id, time) pairs, so the policy is tested over years without storage.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Candidate:
    id: str
    time: datetime


@dataclass(frozen=True)
class Decision:
    keep: dict[str, str]  # id -> why ("daily 2026-11-29", "monthly 2026-10", "newest")
    delete: list[str]


def _latest_per(candidates: list[Candidate], key) -> dict[tuple, Candidate]:
    latest: dict[tuple, Candidate] = {}
    for candidate in candidates:
        bucket = key(candidate.time.astimezone(UTC))
        if bucket not in latest or candidate.time > latest[bucket].time:
            latest[bucket] = candidate
    return latest


def decide(items: Iterable[Candidate], keep_daily: int, keep_monthly: int) -> Decision:
    candidates = sorted(items, key=lambda c: c.time, reverse=True)
    keep: dict[str, str] = {}
    if not candidates:
        return Decision({}, [])
    days = _latest_per(candidates, lambda t: (t.year, t.month, t.day))
    for day in sorted(days, reverse=True)[:keep_daily]:
        keep[days[day].id] = "daily {:04d}-{:02d}-{:02d}".format(*day)
    kept_months = {
        (c.time.astimezone(UTC).year, c.time.astimezone(UTC).month) for c in candidates if c.id in keep
    }
    months = _latest_per(candidates, lambda t: (t.year, t.month))
    older = [month for month in sorted(months, reverse=True) if month not in kept_months]
    for month in older[:keep_monthly]:
        keep[months[month].id] = "monthly {:04d}-{:02d}".format(*month)
    keep.setdefault(candidates[0].id, "newest")
    delete = [c.id for c in candidates if c.id not in keep]
    return Decision(keep, delete)


def first_binlog_needed(keep: dict[str, str], log_numbers: dict[str, int | None]) -> int | None:
    """Sequence number of the oldest binlog a daily-kept backup rolls forward from (None: none has
    a position, so nothing can be judged unneeded); `log_numbers`: backup id -> its sequence."""
    numbers = [
        number
        for backup_id, why in keep.items()
        if not why.startswith("monthly") and (number := log_numbers.get(backup_id)) is not None
    ]
    return min(numbers) if numbers else None
