"""Selecting failed jobs from the command line: `ID` is the row's number or the task's id."""

from __future__ import annotations

from queueops.models import FailedJob


def find(identifier: str) -> FailedJob | None:
    if identifier.isdigit():
        return FailedJob.objects.filter(pk=int(identifier)).first()
    return FailedJob.objects.filter(task_id=identifier).first()


def filtered(queue: str | None = None, task: str | None = None):
    jobs = FailedJob.objects.all()
    if queue:
        jobs = jobs.filter(queue=queue)
    if task:
        jobs = jobs.filter(task=task)
    return jobs
