"""Every periodic job declared in an app's jobs.py runs under the retry policy (issue 19)."""

from __future__ import annotations

from celery import current_app

from queueops.policy import PolicyTask
from scheduler.periodic import registered_jobs


def test_every_registered_periodic_job_is_a_policy_task():
    current_app.loader.import_default_modules()  # what a worker loads: every app's tasks
    jobs = registered_jobs()
    assert {"helpdesk.check_sla", "queueops.check_backlog", "queueops.cleanup"} <= {j.name for j in jobs}
    assert "operations.sample_queues" in {j.name for j in jobs}
    plain = [job.task for job in jobs if not isinstance(current_app.tasks[job.task], PolicyTask)]
    assert plain == [], f"periodic jobs outside the retry policy: {plain}"
