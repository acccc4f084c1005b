"""Selecting failed jobs from the command line: `ID` is the row's number or the task's id,
`N-M` the numbers N to M, `all` every row (narrowed by queue and task)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from queueops.models import FailedJob

# Task ids are UUIDs and hold dashes too: only digits around one dash make a range. ASCII
# digits only: "²".isdigit() and re's \d accept characters int() refuses or reads differently.
_NUMBER = re.compile(r"[0-9]+")
_RANGE = re.compile(r"([0-9]+)-([0-9]+)")
_LOOKS_LIKE_RANGE = re.compile(r"[0-9]*-[0-9]*")


class BadSelection(ValueError):
    """A selector that can never match (a reversed or half range): the caller's usage error."""


@dataclass
class Selection:
    jobs: list[FailedJob] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # ids, or ranges that matched no row


def find(identifier: str) -> FailedJob | None:
    if _NUMBER.fullmatch(identifier):
        return FailedJob.objects.filter(pk=int(identifier)).first()
    return FailedJob.objects.filter(task_id=identifier).first()


def filtered(queue: str | None = None, task: str | None = None):
    jobs = FailedJob.objects.all()
    if queue:
        jobs = jobs.filter(queue=queue)
    if task:
        jobs = jobs.filter(task=task)
    return jobs


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
    """The failed jobs that ids, `N-M` ranges and `all` name, each once, oldest number first.

    Every selector is checked before anything is read, so a bad range refuses the whole run.
    A range's numbers that have no row (forgotten, retried) are not reported one by one; a range
    with no row at all, and an id with none, are `missing`.
    """
    ranges = {selector: parse_range(selector) for selector in dict.fromkeys(selectors) if selector != "all"}
    chosen: dict[int, FailedJob] = {}
    if "all" in selectors:
        chosen.update((job.pk, job) for job in filtered(queue, task))
    missing = []
    for selector, bounds in ranges.items():
        if bounds is None:
            found = [job] if (job := find(selector)) is not None else []
        else:
            found = list(FailedJob.objects.filter(pk__range=bounds))
        if not found:
            missing.append(selector)
        chosen.update((job.pk, job) for job in found)
    return Selection([chosen[pk] for pk in sorted(chosen)], missing)
