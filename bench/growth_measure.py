"""What bench/growth.py times, in a process of its own per data size: pages, endpoints, commands, jobs.

    DATABASE_URL=... python -m bench.growth_measure --scale 0.01 --samples 15

Makes (or tops up) the data (bench.growth_data), then times each target `--samples` times after
one warm-up and prints one JSON line: {target: {"p50": ms, "p99": ms, "queries": n,
"longest_statement": ms}}. The nightly jobs run once, first (their run deletes what there is to
delete, and folds the day of queue history the data holds); for them the longest single
statement stands for the longest a table stays locked.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import statistics
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


def _timed(function, samples: int, warm_up: bool = True) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if warm_up:
        function()  # imports, caches, connections
    times, queries = [], 0
    for _ in range(samples):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            function()
            times.append((time.perf_counter() - started) * 1000)
        queries = len(captured.captured_queries)
    times.sort()
    return {
        "p50": statistics.median(times),
        "p99": times[min(len(times) - 1, math.ceil(len(times) * 0.99) - 1)],
        "queries": queries,
    }


def _once(function) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        result = function()
        elapsed = (time.perf_counter() - started) * 1000
    longest = max((float(query["time"]) * 1000 for query in captured.captured_queries), default=0.0)
    return {
        "p50": elapsed,
        "p99": elapsed,
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, required=True, help="1 is the full data; 0.01 is 1%%")
    parser.add_argument("--samples", type=int, default=15)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from bench import growth_data

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    made_started = time.perf_counter()
    rows = growth_data.make(args.scale, log=lambda line: print(line, file=sys.stderr, flush=True))
    made = time.perf_counter() - made_started
    client = Client()
    client.force_login(growth_data.operator())
    figures: dict[str, dict] = {}

    def get(path):
        def request():
            response = client.get(path, HTTP_ACCEPT="application/json")
            if response.status_code != 200:
                raise SystemExit(f"{path} answered {response.status_code}: {response.content[:300]!r}")

        return request

    # The jobs first: the pages then see the data as production has it, the nightly jobs done and
    # the queue history folded (the sampler folds it every minute; the bench makes 24 h unfolded).
    from mailops import retention
    from operations import history

    jobs = {
        "cleanup (nightly)": cleanup_job(),
        "mail retention (nightly)": retention.prune,
        "history compaction": history.compact,
    }
    jobs_figures = {name: _once(job) for name, job in jobs.items()}
    for path in PAGES:
        figures[path] = _timed(get(path), args.samples)
    for path in DEEP:
        figures[f"{path} (deep page)"] = _timed(get(deep_page(client, path)), args.samples)

    def command(*argv):
        return lambda: call_command(*argv, stdout=io.StringIO())

    figures["ops_report"] = _timed(command("ops_report", "--format", "json"), max(3, args.samples // 5))
    # Every failed job, so half a minute at full data on a loaded machine: once, after ops_report
    # (the same imports and connection), no target.
    figures["queue_failed --json"] = _timed(command("queue_failed", "--json"), 1, warm_up=False)
    figures.update(jobs_figures)

    print(json.dumps({"scale": args.scale, "rows": rows, "seconds_to_make": made, "figures": figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
