"""RabbitMQ down under a running web, worker and beat: clean 503s, then everything resumes.

A RabbitMQ node of the test's own is stopped while a real web process (uvicorn), worker and
beat use it. Every ops endpoint that publishes a task answers 503 with Retry-After and changes
nothing; what needs only the database keeps answering; a helpdesk reply (which publishes its
mail after the commit) is stored and answers 201, its mail row committed with it and pending. Once
the node is back the same calls succeed, every enqueue the web acknowledged runs, the pending mail
is published again by beat's `mailops.republish_pending` and sent exactly once, and the worker and
beat that ran throughout reconnected by themselves (never restarted).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import pytest
from django.contrib.auth.models import User
from django_celery_results.models import TaskResult
from knox.models import AuthToken

from helpdesk.models import Ticket
from keyvalue import store
from mailops.jobs import JOBS as MAIL_JOBS
from mailops.models import OutboundMessage
from queueops.models import FailedJob
from scheduler.leadership import LEADER_KEY
from scheduler.models import JobRun
from scheduler.periodic import PeriodicJob, every
from scheduler.sync import sync_jobs
from tests.mailops.conftest import mail_env
from tests.mailops.fake_mailgun import FakeMailgun
from tests.scheduler.beat_support import start_beat
from tests.support.celery_worker import child_env
from tests.support.processes import BIN, ManagedProcess, free_port
from tests.support.rabbitmq_server import RabbitMQServer
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

BEAT_JOB = "tests.rabbit_outage_every_second"
RUN_JOB = "tests.rabbit_outage_by_hand"
REPUBLISH_JOB = "mailops.republish_pending"


def _call(port: int, token: str, method: str, path: str, payload: dict | None = None):
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        method=method,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read() or b"null")


def _succeeded(task_ids) -> set[str]:
    return set(
        TaskResult.objects.filter(task_id__in=list(task_ids), status="SUCCESS").values_list(
            "task_id", flat=True
        )
    )


def _beat_runs() -> int:
    return TaskResult.objects.filter(task_name="tests.noop", periodic_task_name=BEAT_JOB).count()


def test_a_rabbitmq_outage_is_clean_503s_and_everything_resumes(tmp_path):
    from django_celery_beat.models import PeriodicTask

    sync_jobs(
        [
            PeriodicJob(BEAT_JOB, task="tests.noop", schedule=every(1)),
            PeriodicJob(RUN_JOB, task="tests.noop", schedule=every(3600), enabled=False),
            *(job for job in MAIL_JOBS if job.name == REPUBLISH_JOB),
        ]
    )
    assert PeriodicTask.objects.filter(name=RUN_JOB).exists()
    store().delete(LEADER_KEY)
    # A superuser holds every action's permission whether or not a flush removed the groups.
    user = User.objects.create_superuser("rabbit-outage-ops", "ops@example.com", "x")
    token = AuthToken.objects.create(user=user)[1]
    requester = User.objects.create_user("rabbit-outage-requester", "requester@example.com")
    ticket = Ticket.objects.create(requester=requester, subject="mail me the replies")
    job = FailedJob.objects.create(
        task_id="outage-failed-1",
        connection="amqp://",
        queue="celery",
        task="tests.noop",
        attempts=3,
        exception="builtins.RuntimeError",
    )

    node = RabbitMQServer(tmp_path / "rabbitmq")
    node.start()
    mailgun = FakeMailgun().start()
    mail = {**mail_env(mailgun), "QUEUE_ALERTS": "none"}
    env = {**os.environ, **child_env(CELERY_BROKER_URL=node.url, **mail)}
    port = free_port()
    web_argv = [str(BIN / "uvicorn"), "opsproject.asgi:application", "--host", "127.0.0.1"]
    web_argv += ["--port", str(port), "--lifespan", "off"]
    worker_argv = [str(BIN / "celery"), "-A", "opsproject", "worker", "--loglevel=INFO", "--pool=prefork"]
    worker_argv += ["--concurrency=1", "--without-gossip", "--without-mingle", "--queues=celery"]
    worker_argv += ["--include=tests.scheduler.scheduler_tasks"]
    processes: list[ManagedProcess] = []
    try:
        web = ManagedProcess(web_argv, env=env)
        worker = ManagedProcess(worker_argv, env=env)
        processes += [web, worker]
        web.wait_for_line(r"Uvicorn running", timeout=60)
        worker.wait_for_line(r"ready\.", timeout=120)
        beat = start_beat("beat-outage", 3.0, 1.0, CELERY_BROKER_URL=node.url, **mail)
        processes.append(beat)
        wait_until(lambda: _beat_runs() >= 1, 120, "a beat send run", explain=lambda: beat.output[-2000:])

        acknowledged = []
        status, _, body = _call(port, token, "POST", f"/api/ops/schedules/{RUN_JOB}/run/")
        assert status == 200, body
        acknowledged.append(body["task_id"])

        node.stop()
        publishing = [
            ("POST", f"/api/ops/schedules/{RUN_JOB}/run/", None),
            ("POST", f"/api/ops/failed-jobs/{job.pk}/retry/", None),
            ("POST", "/api/ops/failed-jobs/retry/", {"ids": [job.pk]}),
            ("POST", "/api/ops/backups/", {"note": "during the outage"}),
            ("GET", "/api/ops/queues/", None),
        ]
        for method, path, payload in publishing:
            status, headers, body = _call(port, token, method, path, payload)
            assert status == 503, (path, status, body)
            assert headers.get("Retry-After") == "5", path
            assert "Traceback" not in json.dumps(body) and str(node.port) not in json.dumps(body), body
        # A helpdesk reply publishes only after its commit (the requester's mail): the reply is
        # stored and answered 201, with its mail row, pending (no publish named on it).
        status, _, body = _call(
            port, token, "POST", f"/api/tickets/{ticket.pk}/replies/", {"body": "still here", "public": True}
        )
        assert status == 201, body
        mail = OutboundMessage.objects.get(kind="helpdesk.reply")
        assert (mail.status, mail.task_id) == (OutboundMessage.Status.QUEUED, ""), mail.error
        # Nothing half-done: the failed job is still there to retry. The database still answers.
        assert FailedJob.objects.filter(pk=job.pk).exists()
        assert _call(port, token, "GET", "/api/ops/failed-jobs/")[0] == 200

        node.start()
        # The web's next publish reconnects; the first may still meet the closed connection.
        ran = []
        wait_until(
            lambda: (
                ran.append(_call(port, token, "POST", f"/api/ops/schedules/{RUN_JOB}/run/"))
                or ran[-1][0] == 200
            ),
            60,
            "the run endpoint to answer 200 again",
            explain=lambda: ran[-1],
        )
        acknowledged.append(ran[-1][2]["task_id"])
        status, _, body = _call(port, token, "POST", f"/api/ops/failed-jobs/{job.pk}/retry/")
        assert status == 200, body
        acknowledged.append(body["new_task_id"])
        assert not FailedJob.objects.filter(pk=job.pk).exists()

        beat_runs = _beat_runs()
        wait_until(
            lambda: _succeeded(acknowledged) == set(acknowledged),
            120,
            "every acknowledged enqueue run",
            explain=lambda: (
                f"not run: {set(acknowledged) - _succeeded(acknowledged)}\n{worker.output[-3000:]}"
            ),
        )
        wait_until(
            lambda: _beat_runs() > beat_runs + 1,
            120,
            "beat sending again",
            explain=lambda: beat.output[-3000:],
        )
        # The pending mail: published again by the job once a minute old, sent once, and a later
        # run of the job (it finished after the send) publishes nothing more.
        wait_until(
            lambda: OutboundMessage.objects.filter(pk=mail.pk, status=OutboundMessage.Status.SENT).exists(),
            300,
            "the mail pending through the outage to be sent",
            explain=lambda: f"{OutboundMessage.objects.get(pk=mail.pk)}\n{worker.output[-3000:]}",
        )
        sent_at = OutboundMessage.objects.get(pk=mail.pk).sent_at
        wait_until(
            lambda: JobRun.objects.filter(
                job=REPUBLISH_JOB, started_at__gt=sent_at, outcome=JobRun.SUCCESS
            ).exists(),
            300,
            "a republish run after the send",
            explain=lambda: beat.output[-2000:],
        )
        assert [m.to for m in mailgun.sent] == [["requester@example.com"]]
        # Reconnected by themselves: none of them was restarted.
        assert worker.proc.poll() is None and beat.proc.poll() is None and web.proc.poll() is None
        print(
            f"\nRabbitMQ outage: 5 endpoints answered 503 + Retry-After; "
            f"{len(acknowledged)} acknowledged enqueues all ran"
        )
    finally:
        for process in reversed(processes):
            process.stop()
        node.stop()
        mailgun.stop()
