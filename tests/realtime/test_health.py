"""Realtime's health over real HTTP: the heartbeat decides /health/realtime (and /health/reverb,
the Laravel setup's path), and every path of the old operations report answers."""

from __future__ import annotations

import urllib.request

import pytest
from django.conf import settings

import keyvalue
from realtime import servers
from tests.realtime.support import WEB_APP, asgi_server, http
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "realtime-health-token-0123456789abcdef"
# Every probe runs its checks (no cached answer), with details for the token.
PROBES = {"HEALTH_TOKEN": TOKEN, "HEALTH_CACHE_SECONDS": "0"}
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def probe(base: str, path: str) -> tuple[int, dict]:
    return http("GET", f"{base}{path}", headers=AUTH)


def servers_entry(document: dict) -> dict:
    [entry] = document["checks"]["realtime:servers"]
    return entry


def test_realtime_and_reverb_fail_without_a_live_realtime_server_and_pass_with_one():
    keyvalue.store().delete(servers.BOARD)  # servers of earlier tests, stopped or killed
    with asgi_server(app=WEB_APP, **PROBES) as web:
        for path in ("/health/realtime", "/health/reverb"):
            status, document = probe(web.base, path)
            assert status == 503, (path, document)
            assert servers_entry(document)["status"] == "fail"
            assert servers_entry(document)["output"].startswith("no realtime server is alive")

        with asgi_server(**PROBES) as realtime:
            # No client has connected: the server is on the board because it started.
            for base in (web.base, realtime.base):
                status, document = probe(base, "/health/reverb")
                assert status == 200, document
                assert servers_entry(document)["observedValue"] == 1
            [server] = servers.alive().values()
            assert server["pid"] > 0 and server["host"] and server["connections"] == 0
            _, realtime_document = probe(web.base, "/health/realtime")
            assert set(realtime_document["checks"]) == set(document["checks"]), "/reverb is /realtime"

        # Stopped with SIGTERM, the server took its heartbeat off the board.
        wait_until(
            lambda: probe(web.base, "/health/reverb")[0] == 503,
            30,
            "/health/reverb failing once the realtime server stopped",
        )


def test_every_path_of_the_old_report_answers():
    env = {**PROBES, "HEALTH_CHECKS": ",".join(settings.HEALTH_CHECKS)}
    with asgi_server(**env) as srv:
        with urllib.request.urlopen(f"{srv.base}/up", timeout=10) as response:
            assert (response.status, response.read()) == (200, b"ok")
        status, document = probe(srv.base, "/health/app")
        assert (status, document) == (200, {"status": "pass"})
        for component in ("database", "cache", "storage", "reverb"):
            status, document = probe(srv.base, f"/health/{component}")
            assert (status, document["status"]) == (200, "pass"), (component, document)
        # Their verdict depends on workers and mail settings this test does not start: each
        # answers with its own component's checks.
        for component in ("queue", "mail"):
            status, document = probe(srv.base, f"/health/{component}")
            assert status in (200, 503) and document["checks"], (component, document)
            assert all(key.startswith(f"{component}:") for key in document["checks"]), document
        status, document = probe(srv.base, "/health")
        assert status in (200, 503) and document["status"] in ("pass", "warn", "fail")
        assert {"database", "cache", "storage", "queue", "mail", "realtime"} <= {
            key.split(":")[0] for key in document["checks"]
        }
