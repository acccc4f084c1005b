"""The one helper every door uses to write the audit log: `record` for a request, `run_of` for a command.

The client address is REMOTE_ADDR as the server set it. The server (uvicorn, gunicorn) puts the
X-Forwarded-For address there only when the connection came from a proxy in
FORWARDED_ALLOW_IPS; the application never reads X-Forwarded-For itself, so a client cannot
choose the address it is logged under. A value that is no IP address is logged as none.
"""

from __future__ import annotations

import getpass
import ipaddress
import logging
import re
from contextlib import contextmanager

from django.core.management.base import CommandError
from django.db import DatabaseError

from audit.models import AuditEntry
from health.redact import mask

log = logging.getLogger(__name__)

# Options every Django command has; they say nothing about what the operator did.
_COMMON_OPTIONS = frozenset(
    ["verbosity", "settings", "pythonpath", "traceback", "no_color", "force_color", "skip_checks"]
)
_SECRET_OPTION = re.compile(r"pass|secret|token|key|identity|credential", re.IGNORECASE)


def record(
    request,
    action: str,
    target: str = "",
    detail: dict | None = None,
    *,
    channel: str = AuditEntry.API,
    outcome: str = AuditEntry.OK,
) -> AuditEntry:
    """Write the entry for a request (inside the caller's transaction, when there is one)."""
    user = getattr(request, "user", None)
    authenticated = bool(user and user.is_authenticated)
    return _write(
        user=user if authenticated else None,
        username=user.get_username() if authenticated else "",
        action=action,
        target=target,
        detail=detail,
        channel=channel,
        outcome=outcome,
        remote_addr=_address(request.META.get("REMOTE_ADDR")),
    )


def _address(remote_addr: str | None) -> str | None:
    """REMOTE_ADDR when it is an IP address, else None: behind a trusted proxy it is whatever
    X-Forwarded-For said, and the column (and the action it audits) must not fail on a word."""
    try:
        return str(ipaddress.ip_address((remote_addr or "").strip()))
    except ValueError:
        return None


def _write(*, quiet: bool = False, **fields) -> AuditEntry:
    fields["target"] = str(fields["target"])[:300]
    fields["detail"] = fields["detail"] or {}
    entry = AuditEntry.objects.create(**fields)
    if quiet:
        return entry
    log.info(
        "audit: %s %s %s (%s, %s)", entry.username, entry.action, entry.target, entry.channel, entry.outcome
    )
    return entry


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for the uid (a container's arbitrary uid)
        return "unknown"


def arguments(options: dict) -> dict:
    """A command's options as the audit log keeps them: no Django boilerplate, no secret values."""
    kept = {}
    for name, value in options.items():
        if name in _COMMON_OPTIONS or name.startswith("_"):
            continue
        if _SECRET_OPTION.search(name) and value not in (None, False, "", []):
            kept[name] = "***"
        else:
            kept[name] = _masked(value)
    return kept


def _masked(value):
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return mask(str(value))


@contextmanager
def run_of(command: str, action: str, options: dict, target: str = ""):
    """Audit one run of a command: yields a dict the command may add detail to; the entry is
    written when the run ends, FAILED when it raised or exited non-zero, and the exit is kept.
    A bad usage (exit 2) did nothing and is not written; nor is a log line (the command's own
    output says what it did, and its stderr stays one line on failure)."""
    detail: dict = {"command": command, "arguments": arguments(options)}
    outcome = AuditEntry.OK
    try:
        yield detail
    except SystemExit as exit_:
        if exit_.code not in (None, 0):
            outcome = AuditEntry.FAILED
            detail["exit_code"] = exit_.code if isinstance(exit_.code, int) else 1
        raise
    except CommandError as error:
        outcome = AuditEntry.FAILED
        detail.update(exit_code=error.returncode, error=mask(str(error)))
        raise
    except BaseException as error:
        outcome = AuditEntry.FAILED
        detail["error"] = mask(f"{type(error).__name__}: {error}")
        raise
    finally:
        if detail.get("exit_code") != USAGE_EXIT:
            _write_run(command, action, target, detail, outcome)


USAGE_EXIT = 2


def _write_run(command: str, action: str, target: str, detail: dict, outcome: str) -> None:
    try:
        _write(
            quiet=True,
            username=os_user(),
            action=action,
            target=target or command,
            detail=detail,
            channel=AuditEntry.COMMAND,
            outcome=outcome,
        )
    except DatabaseError as error:
        # The command's own outcome matters more than its audit row; say it was not written.
        log.error("audit: %s was not written (%s)", command, type(error).__name__)
