"""The `scheduler` health check: a leading beat with a fresh heartbeat, standbys, late jobs."""

from __future__ import annotations

from health.registry import health_check
from health.results import FAIL, PASS, WARN, Result
from scheduler.leadership import coordinator, is_fresh
from scheduler.runlog import job_statuses


@health_check("scheduler")
def scheduler() -> list[Result]:
    results = []
    board = coordinator()
    leader = board.leader()
    members = board.members()
    leader_state = members.get(leader) if leader else None
    if leader is None:
        results.append(Result("scheduler", FAIL, "leader", output="no beat holds the leader lock"))
    elif leader_state is None or not is_fresh(leader_state) or leader_state["role"] != "leader":
        results.append(
            Result("scheduler", FAIL, "leader", component_id=leader, output="the leader's heartbeat is stale")
        )
    else:
        results.append(
            Result(
                "scheduler",
                PASS,
                "leader",
                observed_value=round(leader_state["age"], 1),
                observed_unit="s",
                component_id=leader,
                output="seconds since the leader's last heartbeat",
            )
        )
    standbys = sorted(n for n, s in members.items() if s["role"] == "standby" and is_fresh(s))
    results.append(
        Result(
            "scheduler",
            PASS if standbys else WARN,
            "standbys",
            observed_value=len(standbys),
            output="" if standbys else "no standby beat: the leader is a single point of failure",
        )
    )
    statuses = job_statuses()
    late = [s for s in statuses if s.late]
    critical = [s.name for s in late if s.critical]
    status = FAIL if critical else WARN if late else PASS
    output = ", ".join(f"{s.name} late by {s.late_by_seconds}s" for s in late)
    results.append(Result("scheduler", status, "lateJobs", observed_value=len(late), output=output))
    return results
