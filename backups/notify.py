"""Backup notifications through queueops' alerts (mail to ADMINS, ALERT_WEBHOOK_URL).

Sending must never fail a finished backup, so errors here are only logged.
"""

from __future__ import annotations

import logging

log = logging.getLogger("backups")

BACKUP_FAILED = "backups.backup_failed"
PRUNE_FAILED = "backups.prune_failed"
DRILL_FAILED = "backups.drill_failed"
TOO_OLD = "backups.too_old"
TOO_LARGE = "backups.too_large"
BINLOG_GAP = "backups.binlog_gap"
BINLOG_FAILED = "backups.binlog_failed"


def alert(key: str, summary: str, detail: str = "") -> None:
    try:
        from alerts.notices import raise_alert

        raise_alert(key, summary, detail=detail, source="backups")
    except Exception as error:
        log.error("backups: could not raise alert %s (%s): %s", key, summary, error)


def report(key: str, failing: bool, summary: str, detail: str = "") -> None:
    """Raise alert `key` while `failing`, resolve it otherwise."""
    if failing:
        return alert(key, summary, detail)
    resolve(key)


def resolve(key: str) -> None:
    try:
        from alerts.notices import resolve_alert

        resolve_alert(key)
    except Exception as error:
        log.error("backups: could not resolve alert %s: %s", key, error)
