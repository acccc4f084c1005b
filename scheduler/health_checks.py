"""The `scheduler` health check: a leading beat with a fresh heartbeat, standbys, late jobs."""

from __future__ import annotations

from health.registry import health_check
from health.results import FAIL, PASS, WARN, Result
from scheduler.leadership import coordinator, is_fresh
from scheduler.runlog import job_statuses


@health_check("scheduler")
def scheduler() -> list[Result]:
    board = coordinator()
    leader, members = board.leader(), board.members()
    state = members.get(leader) if leader else None
    if leader is None:
        results = [Result("scheduler", FAIL, "leader", output="no beat holds the leader lock")]
    elif state is None or not is_fresh(state) or state["role"] != "leader":
        results = [
            Result("scheduler", FAIL, "leader", component_id=leader, output="the leader's heartbeat is stale")
        ]
    else:
        age, output = round(state["age"], 1), "seconds since the leader's last heartbeat"
        results = [
            Result(
                "scheduler",
                PASS,
                "leader",
                observed_value=age,
                observed_unit="s",
                component_id=leader,
                output=output,
            )
        ]
    standbys = sorted(n for n, s in members.items() if s["role"] == "standby" and is_fresh(s))
    alone = "" if standbys else "no standby beat: the leader is a single point of failure"
    results.append(
        Result("scheduler", WARN if alone else PASS, "standbys", observed_value=len(standbys), output=alone)
    )
    late = [s for s in job_statuses() if s.late]
    status = FAIL if any(s.critical for s in late) else WARN if late else PASS
    output = ", ".join(f"{s.name} late by {s.late_by_seconds}s" for s in late)
    results.append(Result("scheduler", status, "lateJobs", observed_value=len(late), output=output))
    return results
