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


def wait_while_progressing(
    predicate: Callable[[], object],
    progress: Callable[[], object],
    quiet: float,
    what: str,
    explain: Callable[[], str] | None = None,
):
    """`wait_until` for a stream of work whose length a loaded machine stretches: poll
    `predicate` for as long as `progress()` (a count of work done) keeps changing, and fail only
    after `quiet` s in which it did not."""
    while True:
        seen = progress()
        value = wait_until(
            lambda seen=seen: predicate() or progress() != seen,
            quiet,
            f"{what} (no progress for {quiet} s)",
            explain=explain,
        )
        if predicate():
            return value
