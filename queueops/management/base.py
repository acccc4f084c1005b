"""What the queue_* commands share: one-line usage errors (exit 2), argument types, the audit log."""

from __future__ import annotations

import argparse

from django.core.management.base import CommandError

from audit.commands import AuditedCommand
from health.management.commands.health import positive_seconds  # noqa: F401 (the commands' --timeout type)


class QueueCommand(AuditedCommand):
    """A command whose bad usage exits 2 with one line on stderr (as the schedule_* commands'); one
    that changes something sets `audit_action` and each run is audited (AuditedCommand).

    System checks are skipped: these are the commands of an incident, and a check failing in
    unrelated configuration must not keep an operator from listing or retrying jobs. It also
    keeps start-up short (queue_worker_alive has 2 s).
    """

    one_line_usage = True
    requires_system_checks = []

    def usage_error(self, message: str) -> CommandError:
        return CommandError(message, returncode=2)


def hours(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of hours") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value!r}: hours cannot be negative")
    return number


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)
