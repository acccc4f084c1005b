"""What bench/growth.py times, in a process of its own per data size: pages, endpoints, commands, jobs.

    DATABASE_URL=... python -m bench.growth_measure --scale 0.01

Makes (or tops up) the data (bench.growth_data), then serves bench/growth.py, one JSON line a
request on stdin and one JSON line an answer on stdout (Django's own output goes to stderr):

    {"do": "jobs"}                    the nightly jobs, once each, and the targets' names:
                                      {"jobs": {job: {"p50", "p99", "queries", "longest_statement"}},
                                      "targets": [...]}; the jobs' run deletes what there is to
                                      delete and folds the day of queue history the data holds
    {"do": "time", "target": name}    one timed run of a page, endpoint or command:
                                      {"ms": ..., "queries": n}
    {"do": "quit"}

The first line it writes, once the data is there, is {"rows": ..., "seconds_to_make": ...}.
bench/growth.py runs one of these per data size at the same time and asks them in turn, target
by target and round by round, so both sizes are timed in the same state of a shared machine. For
the nightly jobs the longest single statement stands for the longest a table stays locked.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsproject.settings")

PAGES = [
    "/admin/operations/dashboard/",
    "/api/ops/failed-jobs/",
    "/api/ops/mail/events/",
    "/api/ops/audit/",
    "/api/ops/alerts/",
    "/api/ops/queues/",
    "/api/ops/workers/",
    "/api/ops/schedules/",
    "/api/ops/backups/",
    "/api/ops/backups/drills/",
    "/api/ops/mail/suppressions/",
    "/api/ops/overview/",
    "/metrics",
]
DEEP = ["/api/ops/failed-jobs/", "/api/ops/mail/events/", "/api/ops/audit/", "/api/ops/alerts/"]
COMMANDS = {
    "ops_report": ("ops_report", "--format", "json"),
    "queue_failed --json": ("queue_failed", "--json"),
}


def timed(function) -> dict:
    """One run of `function`: its time in ms, its queries and its longest statement."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        result = function()
        elapsed = (time.perf_counter() - started) * 1000
    longest = max((float(query["time"]) * 1000 for query in captured.captured_queries), default=0.0)
    return {
        "ms": elapsed,
        "queries": len(captured.captured_queries),
        "longest_statement": longest,
        "result": str(result)[:200],
    }


def cleanup_job(*modules: str):
    """The daily cleanup job's function, wherever the app split put it."""
    from importlib import import_module

    for module in modules or ("queueops.cleanup", "scheduler.cleanup"):
        try:
            return import_module(module).cleanup
        except (ImportError, AttributeError):
            continue
    raise SystemExit(f"no cleanup job in {modules}")


def deep_page(client, path: str) -> str:
    """The page halfway through the list (page-number pagination), or the cursor link there."""
    first = client.get(path, HTTP_ACCEPT="application/json").json()
    count = first.get("count")
    if count is None:  # cursor pagination: follow `next` a few pages in
        link = path
        for _ in range(20):
            link = client.get(link, HTTP_ACCEPT="application/json").json().get("next") or link
        return link
    size = max(1, len(first.get("results", [])))
    return f"{path}?page={max(1, math.ceil(count / size) // 2)}"


def targets(client) -> dict:
    """Every timed target by name: a function of no arguments."""
    from django.core.management import call_command

    def get(path):
        def request():
            response = client.get(path, HTTP_ACCEPT="application/json")
            if response.status_code != 200:
                raise SystemExit(f"{path} answered {response.status_code}: {response.content[:300]!r}")

        return request

    def command(argv):
        return lambda: call_command(*argv, stdout=io.StringIO())

    found = {path: get(path) for path in PAGES}
    found.update({f"{path} (deep page)": get(deep_page(client, path)) for path in DEEP})
    found.update({name: command(argv) for name, argv in COMMANDS.items()})
    return found


def jobs() -> dict:
    from mailops import retention
    from operations import history

    run = {
        "cleanup (nightly)": cleanup_job(),
        "mail retention (nightly)": retention.prune,
        "history compaction": history.compact,
    }
    figures = {}
    for name, job in run.items():
        figure = timed(job)
        figures[name] = {"p50": figure["ms"], "p99": figure["ms"], **figure}
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, required=True, help="1 is the full data; 0.01 is 1%%")
    args = parser.parse_args()
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr  # the answers' stream is for answers only

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from bench import growth_data

    def answer(value) -> None:
        answers.write(json.dumps(value) + "\n")

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    made_started = time.perf_counter()
    rows = growth_data.make(args.scale, log=lambda line: print(line, file=sys.stderr, flush=True))
    made = time.perf_counter() - made_started
    client = Client()
    client.force_login(growth_data.operator())
    found: dict = {}
    answer({"scale": args.scale, "rows": rows, "seconds_to_make": made})
    for line in sys.stdin:
        request = json.loads(line)
        if request["do"] == "quit":
            break
        if request["do"] == "jobs":
            # The jobs first: the pages then see the data as production has it, the nightly jobs
            # done and the queue history folded (the sampler folds it every minute).
            figures = jobs()
            found = targets(client)
            answer({"jobs": figures, "targets": list(found)})
            continue
        figure = timed(found[request["target"]])
        answer({"ms": figure["ms"], "queries": figure["queries"]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
