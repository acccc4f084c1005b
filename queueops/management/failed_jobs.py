"""Selecting failed jobs from the command line: `ID` is the row's number or the task's id,
`N-M` the numbers N to M, `all` every row (narrowed by queue and task). Rows are read in
batches, so a hundred thousand failed jobs are never all in memory at once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from queueops.models import FailedJob

BATCH = 200

# Task ids are UUIDs and hold dashes too: only digits around one dash make a range. ASCII
# digits only: "²".isdigit() and re's \d accept characters int() refuses or reads differently.
_NUMBER = re.compile(r"[0-9]+")
_RANGE = re.compile(r"([0-9]+)-([0-9]+)")
_LOOKS_LIKE_RANGE = re.compile(r"[0-9]*-[0-9]*")


class BadSelection(ValueError):
    """A selector that can never match (a reversed or half range): the caller's usage error."""


@dataclass
class Selection:
    jobs: QuerySet[FailedJob]  # unread: walk it with in_batches
    missing: list[str]  # ids, or ranges that matched no row


def _named(identifier: str) -> Q:
    return Q(pk=int(identifier)) if _NUMBER.fullmatch(identifier) else Q(task_id=identifier)


def find(identifier: str) -> FailedJob | None:
    return FailedJob.objects.filter(_named(identifier)).first()


def filtered(queue: str | None = None, task: str | None = None):
    jobs = FailedJob.objects.all()
    if queue:
        jobs = jobs.filter(queue=queue)
    if task:
        jobs = jobs.filter(task=task)
    return jobs


def in_batches(jobs: QuerySet[FailedJob], newest_first: bool = False) -> Iterator[FailedJob]:
    """`jobs` in number order (or newest failure first), BATCH rows at a time: the keys of a batch
    (from the ordering's index alone), then its rows by key. Each batch starts after the last
    key read (no OFFSET; rows deleted meanwhile, as a retry does, are not skipped). In number
    order only the rows there at the start: a retried job failing again is a new, higher row, and
    `queue_retry all` must not retry it again in the same run (or for ever)."""
    top = jobs.order_by("-pk").values_list("pk", flat=True).first()
    jobs = (
        jobs.order_by("-failed_at", "-pk") if newest_first else jobs.filter(pk__lte=top or 0).order_by("pk")
    )
    after = Q()
    while True:
        keys = list(jobs.filter(after).values_list("pk", "failed_at")[:BATCH])
        rows = FailedJob.objects.order_by().in_bulk([pk for pk, _ in keys])
        yield from (rows[pk] for pk, _ in keys if pk in rows)
        if len(keys) < BATCH:
            return
        pk, failed_at = keys[-1]
        if newest_first:
            after = Q(failed_at__lt=failed_at) | Q(failed_at=failed_at, pk__lt=pk)
        else:
            after = Q(pk__gt=pk)


def parse_range(selector: str) -> tuple[int, int] | None:
    """(first, last) for `N-M`; None for a plain id; BadSelection for `9-5`, `5-` or `-5`."""
    match = _RANGE.fullmatch(selector)
    if match:
        first, last = int(match[1]), int(match[2])
        if first > last:
            raise BadSelection(f"range {selector} runs backwards: write {last}-{first}")
        return first, last
    if _LOOKS_LIKE_RANGE.fullmatch(selector):
        raise BadSelection(f"{selector!r} is not a range: write FIRST-LAST, e.g. 5-9")
    return None


def select(selectors: list[str], queue: str | None = None, task: str | None = None) -> Selection:
    """The failed jobs that ids, `N-M` ranges and `all` name, each once (one query's rows).

    Every selector is checked before anything is read, so a bad range refuses the whole run.
    A range's numbers that have no row (forgotten, retried) are not reported one by one; a range
    with no row at all, and an id with none, are `missing`.
    """
    ranges = {selector: parse_range(selector) for selector in dict.fromkeys(selectors) if selector != "all"}
    chosen = filtered(queue, task) if "all" in selectors else FailedJob.objects.none()
    missing = []
    for selector, bounds in ranges.items():
        named = _named(selector) if bounds is None else Q(pk__range=bounds)
        if not FailedJob.objects.filter(named).exists():
            missing.append(selector)
        chosen |= FailedJob.objects.filter(named)
    return Selection(chosen, missing)
