"""Point-in-time recovery: which shipped binlogs roll a backup forward, their checks, the replay."""

from __future__ import annotations

import logging
import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from backups import binlogs
from backups.dumpers.base import StderrCollector, child_env
from backups.dumpers.mysql import MySQLDumper, first_tool
from backups.errors import BackupError, IntegrityError, UsageError
from backups.manifest import Manifest
from backups.pipeline import decrypt_stream
from backups.progress import Progress
from backups.storage import BackupStorage

log = logging.getLogger("backups")


def parse_until(value: str) -> datetime:
    """An ISO 8601 moment with a zone (`2026-12-01T10:42:00Z`), in UTC, cut to the second."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(f"--until {value!r} is not an ISO 8601 time such as 2026-12-01T10:42:00Z") from None
    if moment.tzinfo is None:
        raise UsageError(f"--until {value!r} has no time zone: add Z (UTC) or an offset such as +01:00")
    return moment.astimezone(UTC).replace(microsecond=0)


@dataclass
class Plan:
    backup: Manifest
    until: datetime | None  # None: to the end of the shipped logs (drills)
    logs: list[binlogs.BinlogManifest]
    start_position: int

    @property
    def reach(self) -> datetime:
        return self.until or self.logs[-1].last_event_at

    def describe(self) -> str:
        names = f"{self.logs[0].file}..{self.logs[-1].file}" if len(self.logs) > 1 else self.logs[0].file
        moment = self.reach.isoformat()
        return f"{len(self.logs)} binlog(s) {names} from position {self.start_position} to {moment}"


def plan(
    manifest: Manifest, until: datetime | None, store: BackupStorage | None = None, *, allow_unsigned=False
) -> Plan:
    """The shipped logs that take `manifest` to `until`; UsageError when it cannot be reached or a
    log's manifest is unsigned (unless `allow_unsigned`). Logs with a wrong MAC are not listed."""
    store = store or BackupStorage()
    if manifest.vendor != "mysql":
        raise UsageError(
            f"point-in-time recovery is for MariaDB/MySQL; backup {manifest.id} is {manifest.vendor}"
        )
    position = manifest.position or {}
    if not position.get("file"):
        raise UsageError(
            f"backup {manifest.id} has no binary-log position (binary logging was off when it was taken): "
            f"it restores only to its own snapshot of {manifest.started_at.isoformat()}; drop --until/--pitr"
        )
    if until is not None and until < manifest.started_at:
        raise UsageError(
            f"--until {until.isoformat()} is before the snapshot of backup {manifest.id} "
            f"({manifest.started_at.isoformat()}): restore an older backup"
        )
    logs = binlogs.shipped(manifest.alias, store)
    start = binlogs.sequence(position["file"])
    newest = logs[-1] if logs else None
    if newest is None or newest.sequence < start or (until is not None and until > newest.last_event_at):
        last = f"{newest.last_event_at.isoformat()} (end of {newest.file})" if newest else "none shipped"
        asked = until.isoformat() if until else "the end of the shipped logs"
        raise UsageError(
            f"{asked} is past the last shipped binlog event of database {manifest.alias!r}: {last}; "
            "ship the newer logs first (manage.py backup_binlogs) or pick an earlier moment"
        )
    by_number = {m.sequence: m for m in logs}
    needed: list[binlogs.BinlogManifest] = []
    number = start
    while True:
        current = by_number.get(number)
        if current is None:
            reach = needed[-1].last_event_at.isoformat() if needed else manifest.started_at.isoformat()
            raise BackupError(
                f"binlog {binlogs.sibling(position['file'], number)} needed to roll backup {manifest.id} "
                f"forward is not in storage (purged before it was shipped?): it can reach {reach} at most"
            )
        needed.append(current)
        if current is newest or (until is not None and current.last_event_at >= until):
            break
        number += 1
    unsigned = [item.file for item in needed if not item.authenticated]
    if unsigned and not allow_unsigned:
        raise UsageError(
            f"binlog manifest(s) {', '.join(unsigned[:3])} are unsigned (shipped before manifests were "
            "signed, or planted): refused; backup_restore --allow-unsigned accepts them"
        )
    return Plan(manifest, until, needed, int(position.get("position") or 4))


def fetch(the_plan: Plan, store: BackupStorage, identities, into: Path, *, tty=None) -> list[Path]:
    """Decrypt and check every log of the plan into `into`; IntegrityError names the first bad one."""
    paths = []
    for item in the_plan.logs:
        try:
            size = store.size(item.archive)
        except FileNotFoundError:
            raise IntegrityError(f"binlog archive {item.archive} is missing from storage") from None
        if size != item.stored_size:
            raise IntegrityError(
                f"binlog archive {item.archive} is {size} bytes, its manifest says {item.stored_size}"
            )
        path = into / item.file
        with store.open(item.archive) as source, open(path, "wb") as sink:
            try:
                stats = decrypt_stream(
                    source, sink, identities, progress=Progress(f"binlog {item.file}", size, tty)
                )
            except IntegrityError as error:
                raise IntegrityError(f"binlog archive {item.archive}: {error}") from None
        if stats.sha256 != item.sha256:
            raise IntegrityError(f"binlog archive {item.archive}: sha256 differs from its manifest")
        events = binlogs.read_events(path)
        if (events.size, events.sha256) != (item.raw_size, item.raw_sha256):
            raise IntegrityError(
                f"binlog {item.file}: decrypted log differs from its manifest (size or sha256)"
            )
        paths.append(path)
    log.info("pitr %s: %d binlog archive(s) verified", the_plan.backup.id, len(paths))
    return paths


def replay(the_plan: Plan, paths: list[Path], dumper: MySQLDumper, target: str) -> None:
    """Apply the backup's database events from its position up to `until` to database `target`
    (`dumper`: the pitr user's, backups/logins.py; a staging server's own for staging drills)."""
    tool = first_tool("mariadb-binlog", "mysqlbinlog")
    source = the_plan.backup.database["name"]
    argv = [
        tool,
        "--no-defaults",  # reads local files: no server, no credentials, no option groups
        f"--start-position={the_plan.start_position}",
        f"--database={source}",
        # Not logged again: these events are in the shipped logs already, under their own GTIDs.
        "--disable-log-bin",
    ]
    if target != source:
        argv.append(f"--rewrite-db={source}->{target}")
    if the_plan.until is not None:
        argv.append(f"--stop-datetime={the_plan.until:%Y-%m-%d %H:%M:%S}")
    argv += [str(path) for path in paths]
    env = child_env(TZ="UTC")  # --stop-datetime is read in the tool's local zone
    # A failing client breaks the pipe: leaving the block first lets its own error be the message.
    try:
        with dumper.load(target, raw=True) as stdin:
            process = subprocess.Popen(  # noqa: S603 - fixed tool, no shell, no secrets
                argv, stdout=stdin, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env
            )
            errors = StderrCollector(process.stderr)
            code = process.wait()
    except BackupError as error:
        if "denied" not in str(error).lower():
            raise
        raise BackupError(
            f"{error}; binlogs replay as the pitr user (BACKUP_PITR_DATABASE_URL), which needs BINLOG "
            "REPLAY and BINLOG ADMIN (docs/PRODUCTION_ENV.md, Database users)"
        ) from None
    if code != 0:
        raise BackupError(f"{os.path.basename(tool)} exited with {code}: {errors.tail()}")
    log.info("pitr %s: replayed %s into %s", the_plan.backup.id, the_plan.describe(), target)
