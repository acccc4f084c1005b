"""The `web` health check: whether this process has had a free request thread lately.

A probe is answered on the event loop (health/asgi.py), so it stays green while every request
thread is held; this check is what tells the load balancer that the process serves no one.
"""

from __future__ import annotations

from django.conf import settings

from health.registry import health_check
from health.results import FAIL, PASS, Result
from opsproject.http_threads import saturated_for


@health_check("web", measurement="saturation", per_process=True)
def web() -> Result:
    """Fail once no request thread has been free for WEB_THREADS_BUSY_FAIL seconds."""
    entry = {"component": "web", "measurement": "saturation", "observed_unit": "s"}
    busy = saturated_for()
    if busy is None:
        return Result(**entry, status=PASS, output="this process serves no HTTP")
    limit = settings.WEB_THREADS_BUSY_FAIL
    if busy < limit:
        return Result(**entry, status=PASS, observed_value=round(busy, 1))
    output = f"all {settings.WEB_THREADS} request threads busy for {busy:.0f} s (limit {limit:g} s)"
    return Result(**entry, status=FAIL, observed_value=round(busy, 1), output=output)
