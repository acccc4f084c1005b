"""The drill runs on the `restore` queue; on a worker without the age identity it fails in ONE line.

A real worker consumes the `restore` queue with no BACKUP_AGE_IDENTITY_FILE (as an ordinary
worker runs in production: only the drill worker mounts the identity). The drill sent by the
route beat and the ops API use ends as a FailedJob whose message says where drills must run.
"""

from __future__ import annotations

import pytest
from pyrage import x25519

from opsproject.celery import app
from queueops.models import FailedJob
from tests.queueops.conftest import purge
from tests.support.celery_worker import child_env
from tests.support.processes import BIN, running
from tests.support.waiting import wait_until


@pytest.mark.django_db(transaction=True)
def test_a_drill_on_a_worker_without_the_identity_fails_in_one_clear_line():
    purge("restore")
    recipient = str(x25519.Identity.generate().to_public())  # production: public keys only
    argv = [str(BIN / "celery"), "-A", "opsproject", "worker", "--loglevel=INFO", "--pool=prefork"]
    argv += ["--concurrency=1", "--without-gossip", "--without-mingle", "--queues=restore"]
    argv += ["--hostname=plain-worker@%h"]
    env = child_env(BACKUP_AGE_RECIPIENTS=recipient, BACKUP_AGE_IDENTITY_FILE="")
    try:
        with running(argv, env=env) as worker:
            worker.wait_for_line(r"ready\.", timeout=60)
            sent = app.send_task("backups.drill", kwargs={"reference": "latest", "alias": "default"})
            failed = wait_until(
                lambda: FailedJob.objects.filter(task_id=sent.id).first(),
                60,
                "the drill to end as a failed job",
                explain=lambda: "\n".join(worker.lines[-20:]),
            )
    finally:
        purge("restore")
    assert failed.queue == "restore" and failed.task == "backups.drill"
    assert len(failed.message.splitlines()) == 1, failed.message
    assert failed.message.startswith(
        "BACKUP_AGE_IDENTITY_FILE is not set: restores need the age private key on "
    )
    assert "drills and restores run on the drill worker (queue 'restore')" in failed.message
    assert failed.exception.endswith("UsageError")
