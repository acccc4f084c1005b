"""MariaDB restarted under the running stack: /health says so on its first probe, requests fail
cleanly meanwhile, workers and beat carry on by themselves, and no failed job or task is lost."""

from __future__ import annotations

import uuid

from tests.reliability.stack import (
    WORKERS,
    Stack,
    TaskStream,
    Traffic,
    done_count,
    stack_fixture,  # noqa: F401 - the `stack` fixture
    wait_until,
)
from tests.reliability.tasks import DATABASE_DOWN, DOOMED_STARTED

# Tasks whose only attempt fails while the database is down (3 of the 4 pool processes).
DOOMED = 3
# Tasks enqueued while the database is down, and after it is back.
DURING = 10
AFTER = 40
SPOOL = "queueops:failed-spool"
# Needs the database: token authentication and the failed-job table.
NEEDS_DATABASE = ("GET", "/api/ops/failed-jobs/")
# Needs nothing but the process.
LIVENESS = ("GET", "/health/live")


def _failed_jobs(stack: Stack, task_ids: list[str]) -> int:
    listed = ", ".join(f"'{task_id}'" for task_id in task_ids)
    return stack.scalar(f"SELECT COUNT(*) FROM queueops_failedjob WHERE task_id IN ({listed})")


def _slots_run_since(stack: Stack, since: str) -> int:
    return stack.scalar(f"SELECT COUNT(*) FROM reliability_slots WHERE at > '{since}'")


def _workers_that_ran(stack: Stack, prefix: str) -> set[str]:
    rows = stack.sql(f"SELECT DISTINCT worker FROM reliability_runs WHERE k LIKE '{prefix}%'")
    return {row[0] for row in rows}


def test_a_mariadb_restart_is_reported_at_once_and_survived_without_losing_a_failed_job(stack):
    assert stack.component_status(stack.health(), "database") == {"pass"}
    producer = stack.producer()
    redis = stack.redis.client()
    redis.delete(DATABASE_DOWN, DOOMED_STARTED)
    doomed = [producer.send_task("reliability.doomed", args=[f"doomed-{n}"]).id for n in range(DOOMED)]
    wait_until(lambda: int(redis.get(DOOMED_STARTED) or 0) == DOOMED, 30, "the doomed tasks to start")
    traffic = Traffic(stack, [NEEDS_DATABASE, LIVENESS])
    traffic.start()

    stack.mariadb.stop()
    first = stack.health()
    assert first.status == 503 and stack.component_status(first, "database") == {"fail"}, first
    redis.set(DATABASE_DOWN, 1)
    during = f"during-db-{uuid.uuid4().hex[:8]}-"
    TaskStream(stack, [f"{during}{n:02d}" for n in range(DURING)]).run()
    wait_until(
        lambda: redis.llen(SPOOL) == DOOMED, 30, f"{DOOMED} failed jobs spooled", explain=stack.outputs
    )
    replies_while_down = len(traffic.replies)

    stack.mariadb.start()
    restarted = stack.sql("SELECT UTC_TIMESTAMP(6)")[0][0]
    wait_until(lambda: stack.health().status == 200, 30, "/health to pass again")
    wait_until(lambda: redis.llen(SPOOL) == 0, 30, "the spool to be written", explain=stack.outputs)
    traffic.finish()
    redis.delete(DATABASE_DOWN)

    assert _failed_jobs(stack, doomed) == DOOMED
    assert traffic.bad() == []
    assert 503 in traffic.statuses(NEEDS_DATABASE[1]), "no request saw the outage"
    assert traffic.statuses(LIVENESS[1]) == {200}
    assert len(traffic.replies) > replies_while_down, "the web stopped answering"
    wait_until(
        lambda: done_count(stack, during) == DURING,
        90,
        f"the {DURING} tasks enqueued during the outage",
        explain=stack.outputs,
    )

    # Workers and beat reconnect by themselves: new work runs on both, slots keep running.
    after = f"after-db-{uuid.uuid4().hex[:8]}-"
    TaskStream(stack, [f"{after}{n:02d}" for n in range(AFTER)]).run()
    wait_until(lambda: done_count(stack, after) == AFTER, 60, f"{AFTER} tasks after the restart")
    assert _workers_that_ran(stack, after) == set(WORKERS)
    wait_until(lambda: _slots_run_since(stack, restarted) >= 2, 30, "beat's slots to run again")
    print(
        f"mariadb restart: {DOOMED} failed jobs recorded, {DURING} tasks sent during the outage done; "
        f"API answers {sorted(traffic.statuses(NEEDS_DATABASE[1]))} over {len(traffic.replies)} requests"
    )
