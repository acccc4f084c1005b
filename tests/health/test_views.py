"""The endpoints in-process: format, status codes, caching headers, who sees details, leaks."""

from __future__ import annotations

import asyncio
import json

import django
import pytest
from django.contrib.auth.models import User
from django.test import AsyncClient, Client

from tests.health import support
from tests.health.support import calls, use_checks

TOKEN = "test-health-token-0123456789abcdef"  # conftest's HEALTH_TOKEN
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _get(path: str, **headers):
    return asyncio.run(AsyncClient().get(path, headers=headers))


def _body(response) -> dict:
    assert response["Content-Type"] == "application/health+json"
    return json.loads(response.content)


def test_pass_is_200_in_the_draft_format_with_max_age(settings):
    use_checks(settings, "slow", critical=("slow",))
    support.delays["slow"] = 0.01
    settings.HEALTH_CACHE_SECONDS = 10
    response = _get("/health", **AUTH)
    assert response.status_code == 200
    body = _body(response)
    assert body["status"] == "pass"
    [entry] = body["checks"]["slow:sleep"]
    assert entry["status"] == "pass" and entry["componentType"] == "component"
    assert entry["observedValue"] == 0.01 and entry["observedUnit"] == "s"
    assert entry["time"].endswith("Z")
    assert response["Cache-Control"] == "max-age=9, private"
    assert _get("/health/ready", **AUTH).content == response.content


def test_warn_is_200_and_fail_is_503(settings):
    use_checks(settings, "warning", critical=("warning",))
    assert _get("/health").status_code == 200
    assert _body(_get("/health"))["status"] == "warn"
    use_checks(settings, "warning", "optional", critical=("optional",))
    response = _get("/health")
    assert response.status_code == 503 and _body(response)["status"] == "fail"


def test_a_non_critical_failure_warns_the_aggregate_but_fails_its_own_probe(settings):
    use_checks(settings, "warning", "optional", critical=("warning",))
    response = _get("/health")
    assert response.status_code == 200
    body = _body(response)
    assert body["status"] == "warn" and body["checks"]["optional"] == [{"status": "fail"}]
    own = _get("/health/optional")
    assert own.status_code == 503 and _body(own)["status"] == "fail"
    assert list(_body(own)["checks"]) == ["optional"]


def test_details_are_hidden_without_the_token_and_shown_with_it(settings):
    use_checks(settings, "warning")
    anonymous = _body(_get("/health"))
    assert anonymous == {"status": "warn", "checks": {"warning:level": [{"status": "warn"}]}}
    for wrong in ("Bearer nope", f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN):
        assert _body(_get("/health", Authorization=wrong)) == anonymous
    detailed = _body(_get("/health", **AUTH))
    [entry] = detailed["checks"]["warning:level"]
    assert entry["observedValue"] == 91 and entry["output"] == "nearly full"


def test_no_token_configured_means_no_bearer_gets_details(settings):
    use_checks(settings, "warning")
    settings.HEALTH_TOKEN = ""
    assert _body(_get("/health", Authorization="Bearer ")) == _body(_get("/health"))


@pytest.mark.django_db(transaction=True)  # the view reads the session in a thread of its own
def test_a_staff_session_sees_details_and_others_do_not(settings):
    use_checks(settings, "warning")
    staff = User.objects.create_user("ops", is_staff=True)
    agent = User.objects.create_user("agent")
    for user, shown in ((staff, True), (agent, False)):
        client = Client()
        client.force_login(user)
        [entry] = _body(client.get("/health"))["checks"]["warning:level"]
        assert ("output" in entry) is shown


def test_debug_shows_details_to_everyone(settings):
    use_checks(settings, "warning")
    settings.DEBUG = True
    [entry] = _body(_get("/health"))["checks"]["warning:level"]
    assert entry["output"] == "nearly full"


def test_fresh_is_honoured_for_the_token_only(settings):
    use_checks(settings, "slow")
    support.delays["slow"] = 0.01
    settings.HEALTH_CACHE_SECONDS = 60
    _get("/health")
    _get("/health?fresh=1")
    assert calls["slow"] == 1, "an anonymous ?fresh=1 must not bypass the cache"
    _get("/health?fresh=1", **AUTH)
    assert calls["slow"] == 2


def test_single_flight_under_50_concurrent_requests(settings):
    use_checks(settings, "slow", "slow_b")
    # Long enough that all 50 requests arrive while the first run is still going, even on a
    # loaded machine (0.4 s was not: late requests ran the checks a second time).
    support.delays["slow"] = 2.0

    async def storm():
        client = AsyncClient()
        return await asyncio.gather(*(client.get("/health") for _ in range(50)))

    responses = asyncio.run(storm())
    assert [response.status_code for response in responses] == [200] * 50
    assert calls == {"slow": 1, "slow_b": 1}


def test_unknown_component_is_a_health_json_404(settings):
    response = _get("/health/nothing_like_it")
    assert response.status_code == 404
    assert _body(response) == {"status": "fail", "output": "unknown component"}


def test_a_misconfigured_check_list_is_a_503_not_a_500(settings):
    settings.HEALTH_CHECKS = ["tests.health.support.nothing_here"]
    for path in ("/health", "/health/database"):
        response = _get(path, **AUTH)
        assert response.status_code == 503
        assert _body(response) == {"status": "fail", "output": "misconfigured"}


def test_liveness_and_up_touch_no_dependency(settings):
    # The hanging check would take 1 s, and this test has no database access at all:
    # touching either would show as a slow or failed response.
    use_checks(settings, "hanging", critical=("hanging",))
    for path in ("/health/live", "/health/app", "/health/live/"):
        response = _get(path)
        assert response.status_code == 200 and _body(response) == {"status": "pass"}
        assert response["Cache-Control"] == "no-store"
    up = _get("/up")
    assert up.status_code == 200 and up.content == b"ok" and up["Content-Type"].startswith("text/plain")
    assert calls["hanging"] == 0


def test_only_get_and_head(settings):
    use_checks(settings, "warning")
    assert asyncio.run(AsyncClient().post("/health")).status_code == 405
    assert asyncio.run(AsyncClient().head("/health")).status_code == 200


def test_nothing_leaks_even_with_details(settings):
    use_checks(settings, "raising", "warning", critical=("raising",))
    for headers in ({}, AUTH):
        response = _get("/health", **headers)
        text = response.content.decode()
        assert response.status_code == 503
        for secret in (settings.SECRET_KEY, "hunter22", TOKEN, "Traceback", django.get_version()):
            assert secret not in text
        body = json.loads(text)
        assert set(body) == {"status", "checks"}  # no version, release, environment or notes
        assert "Server" not in response and "X-Powered-By" not in response


# --- the ASGI front (health/asgi.py) ------------------------------------------------------------


class _Django:
    """Stands in for Django's handler behind HealthProbes: records what reached it."""

    def __init__(self):
        self.paths: list[str] = []

    async def __call__(self, scope, receive, send):
        self.paths.append(scope["path"])
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"django"})


def _asgi(path: str, *, method: str = "GET", headers: dict[str, str] | None = None, query: str = ""):
    from health.asgi import HealthProbes

    django_app = _Django()
    sent: list[dict] = []
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()],
    }

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(HealthProbes(django_app)(scope, receive, send))
    start, body = sent
    response_headers = {name.decode(): value.decode() for name, value in start["headers"]}
    return start["status"], response_headers, body["body"], django_app.paths


def test_the_asgi_front_answers_probes_without_django(settings):
    use_checks(settings, "warning")
    status, headers, body, reached = _asgi("/health")
    assert (status, reached) == (200, [])
    assert headers["content-type"] == "application/health+json"
    assert headers["content-length"] == str(len(body))
    assert json.loads(body) == {"status": "warn", "checks": {"warning:level": [{"status": "warn"}]}}
    status, _, body, _ = _asgi("/health", headers=AUTH)
    assert json.loads(body)["checks"]["warning:level"][0]["output"] == "nearly full"
    assert _asgi("/health/warning")[0] == 200
    assert _asgi("/health/nothing_like_it")[0] == 404
    assert _asgi("/health/live")[2] == b'{"status":"pass"}'
    assert _asgi("/up")[2] == b"ok"
    status, headers, body, _ = _asgi("/health", method="HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0


def test_the_asgi_front_honours_fresh_for_the_token_only(settings):
    use_checks(settings, "slow")
    support.delays["slow"] = 0.01
    settings.HEALTH_CACHE_SECONDS = 60
    _asgi("/health")
    _asgi("/health", query="fresh=1")
    assert calls["slow"] == 1
    _asgi("/health", query="fresh=1", headers=AUTH)
    assert calls["slow"] == 2


def test_the_asgi_front_leaves_everything_else_and_sessions_to_django(settings):
    use_checks(settings, "warning")
    for path in ("/admin/", "/healthz", "/health/a/b", "/upload", "/"):
        status, _, body, reached = _asgi(path)
        assert (status, body, reached) == (299, b"django", [path])
    assert _asgi("/health", method="POST")[3] == ["/health"]
    # A session might be staff: Django's view decides. With the token, no need to ask.
    cookie = {"Cookie": f"{settings.SESSION_COOKIE_NAME}=abc"}
    assert _asgi("/health", headers=cookie)[3] == ["/health"]
    assert _asgi("/health", headers={**cookie, **AUTH})[3] == []


def test_during_a_rotation_the_previous_token_still_shows_details(settings):
    use_checks(settings, "warning")
    anonymous = _body(_get("/health"))
    settings.HEALTH_TOKEN = "new-health-token-Zq81LmT0pX4vB7nR2cY9"
    settings.HEALTH_TOKEN_PREVIOUS = TOKEN
    for token in (TOKEN, settings.HEALTH_TOKEN):
        assert _body(_get("/health", Authorization=f"Bearer {token}")) != anonymous
    assert _body(_get("/health", Authorization="Bearer older-token-never-configured")) == anonymous
    settings.HEALTH_TOKEN_PREVIOUS = ""  # rotation over: the old token is refused again
    assert _body(_get("/health", **AUTH)) == anonymous
