"""Polling a condition in a test: until it holds, or fail saying what was awaited."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(
    predicate: Callable[[], object],
    timeout: float,
    what: str,
    interval: float = 0.2,
    explain: Callable[[], str] | None = None,
):
    """Poll `predicate` until it is truthy (returned); fail naming `what` after `timeout` s,
    with `explain()` appended to the message when given."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    details = f"\n{explain()}" if explain is not None else ""
    raise AssertionError(f"waited {timeout} s for {what}{details}")
