"""Audit rows that a module-scoped fixture's commands commit are removed when it ends.

Management commands write an audit entry (audit.commands.AuditedCommand). A fixture that runs
one outside a test's transaction commits that row, and later tests that assert "this refused
action wrote no audit row" would see it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def removed_afterwards() -> Iterator[None]:
    """Delete the audit entries written while the block (and what it yields to) ran."""
    from audit.models import AuditEntry

    last = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    try:
        yield
    finally:
        AuditEntry.objects.filter(id__gt=last).delete()
