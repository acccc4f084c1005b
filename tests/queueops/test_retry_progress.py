"""`queue_retry all` shows a progress bar on a terminal, none with --json or off a TTY."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

from queueops.models import FailedJob
from tests.queueops.conftest import purge
from tests.support.celery_worker import child_env
from tests.support.processes import PYTHON, REPO
from tests.support.terminal import run_in_terminal

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(transaction=True)]

QUEUE = "retry_progress"


@pytest.fixture(autouse=True)
def empty_queue():
    yield
    purge(QUEUE)  # the retried messages: no worker here takes them


def failed_jobs(count: int) -> list[FailedJob]:
    return [
        FailedJob.objects.create(
            task_id=str(uuid.uuid4()),
            connection="filesystem://",
            queue=QUEUE,
            routing_key=QUEUE,
            task="tests.queueops.never_run",
            exception="RuntimeError",
            attempts=3,
        )
        for _ in range(count)
    ]


def test_retry_all_draws_a_bar_on_a_terminal_and_stays_quiet_with_json_or_piped():
    env = {**os.environ, **child_env()}
    failed_jobs(3)
    code, shown = run_in_terminal([PYTHON, "manage.py", "queue_retry", "all"], env)
    assert code == 0, shown
    assert "retry: 100%" in shown and "3/3" in shown, shown
    assert not FailedJob.objects.exists()

    jobs = failed_jobs(2)
    code, shown = run_in_terminal([PYTHON, "manage.py", "queue_retry", "all", "--json"], env)
    assert code == 0, shown
    assert "2/2" not in shown and "retry:" not in shown, shown
    report = json.loads(shown[shown.index("{") :])
    assert sorted(row["job_id"] for row in report["retried"]) == sorted(job.pk for job in jobs)

    failed_jobs(2)
    piped = subprocess.run(
        [PYTHON, "manage.py", "queue_retry", "all"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (
        piped.returncode == 0 and "2/2" not in piped.stderr and piped.stdout.count("Retried failed job") == 2
    )
