"""Throttles, login lockouts, hashed expiring tokens and the schema's audience, over real HTTP.

Each test starts uvicorn serving opsproject.asgi and asserts what an attacker gets: 429 with
Retry-After past a throttle or a lockout, whatever X-Forwarded-For says (uvicorn trusts it
only from FORWARDED_ALLOW_IPS, here an address that is not ours); a token that is not stored
and not shown; the schema closed to non-operators in production.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import urllib.parse
import urllib.request
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from knox.models import AuthToken

from tests.operations.conftest import ops_group_named
from tests.opsproject.test_production_settings import generated
from tests.security.support import Response, api_token, asgi_server, request

pytestmark = pytest.mark.django_db(transaction=True)

NOT_OUR_PROXY = {"FORWARDED_ALLOW_IPS": "10.255.255.1"}  # 127.0.0.1 is a client, not a proxy
PASSWORD = "correct horse battery staple 42"


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()  # throttle counts of an earlier run (user ids repeat in a new test database)
    yield
    cache.clear()


def _token_post(base: str, username: str, password: str, forwarded: str | None = None) -> Response:
    headers = {"Content-Type": "application/json"}
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    body = json.dumps({"username": username, "password": password}).encode()
    return request("POST", f"{base}/api/auth/token/", body=body, headers=headers)


def _auth(token: str) -> dict:
    return {"Authorization": f"Token {token}"}


def test_the_user_throttle_answers_429_with_retry_after():
    first, second = User.objects.create_user("busy", is_staff=True), User.objects.create_user("calm")
    first.groups.add(ops_group_named("ops"))  # so the ops API answers it, until the throttle
    busy, calm = api_token(first), api_token(second)
    with asgi_server(API_THROTTLE_USER="5/minute", **NOT_OUR_PROXY) as server:
        url = f"{server.base}/api/tickets/"
        statuses = [request("GET", url, headers=_auth(busy)).status for _ in range(5)]
        throttled = request("GET", url, headers=_auth(busy))
        ops = request("GET", f"{server.base}/api/ops/failed-jobs/", headers=_auth(busy))
        other = request("GET", url, headers=_auth(calm))
    assert statuses == [200] * 5
    assert throttled.status == 429
    assert int(throttled.headers["retry-after"]) > 0
    assert "throttled" in throttled.json()["detail"]
    assert ops.status == 429  # the ops API counts the same user
    assert other.status == 200  # per user: the others are not held back


def test_the_anonymous_throttle_ignores_a_forged_forwarded_for():
    with asgi_server(API_THROTTLE_ANON="3/minute", **NOT_OUR_PROXY) as server:
        answers = [
            _token_post(server.base, f"nobody-{n}", "wrong", forwarded=f"203.0.113.{n}") for n in range(5)
        ]
    assert [answer.status for answer in answers] == [400, 400, 400, 429, 429]
    assert int(answers[-1].headers["retry-after"]) > 0


def test_token_endpoint_locks_out_an_address_and_username_after_failures():
    User.objects.create_user("victim", password=PASSWORD)
    User.objects.create_user("bystander", password=PASSWORD)
    env = {"LOGIN_FAILURE_LIMIT": "3", "LOGIN_LOCKOUT_SECONDS": "600", "API_THROTTLE_ANON": "1000/minute"}
    with asgi_server(**env, **NOT_OUR_PROXY) as server:
        failures = [_token_post(server.base, "victim", f"guess-{n}").status for n in range(3)]
        # Now even the right password is refused, from any X-Forwarded-For the attacker writes.
        locked = _token_post(server.base, "victim", PASSWORD)
        forged = _token_post(server.base, "victim", PASSWORD, forwarded="198.51.100.7")
        other_user = _token_post(server.base, "bystander", PASSWORD)
    assert failures == [400, 400, 429]
    for answer in (locked, forged):
        assert answer.status == 429
        assert answer.json()["detail"].startswith("Too many failed logins")
        assert answer.headers["retry-after"] == "600"
        assert "token" not in answer.json()
    assert other_user.status == 200
    assert len(other_user.json()["token"]) == 64


def _admin_login(base: str, username: str, password: str) -> tuple[Response, urllib.request.OpenerDirector]:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{base}/admin/login/", timeout=120) as page:
        csrf = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.read()).group(1).decode()
    form = {"username": username, "password": password, "csrfmiddlewaretoken": csrf, "next": "/admin/"}
    post = urllib.request.Request(
        f"{base}/admin/login/",
        data=urllib.parse.urlencode(form).encode(),
        headers={"Referer": f"{base}/admin/login/", "X-Forwarded-For": "192.0.2.99"},
    )
    try:
        with opener.open(post, timeout=120) as answer:
            return Response(answer.status, {}, answer.read()), opener
    except urllib.error.HTTPError as error:
        return Response(error.code, {}, error.read()), opener


def test_admin_login_locks_out_after_failures():
    User.objects.create_user("admin-victim", password=PASSWORD, is_staff=True)
    with asgi_server(LOGIN_FAILURE_LIMIT="3", **NOT_OUR_PROXY) as server:
        answers = [_admin_login(server.base, "admin-victim", f"guess-{n}")[0] for n in range(3)]
        locked, _ = _admin_login(server.base, "admin-victim", PASSWORD)
    assert [answer.status for answer in answers[:2]] == [200, 200]  # the form again, with an error
    assert b"Please enter the correct username and password" in answers[0].body
    assert answers[2].status == 429
    assert locked.status == 429
    assert b"Account locked: too many login attempts" in locked.body


def test_tokens_are_hashed_expire_and_are_never_listed_by_the_admin():
    staff = User.objects.create_user("token-admin", password=PASSWORD, is_staff=True, is_superuser=True)
    with asgi_server(API_TOKEN_TTL="3600", **NOT_OUR_PROXY) as server:
        issued = _token_post(server.base, "token-admin", PASSWORD)
        assert issued.status == 200
        token = issued.json()["token"]
        stored = AuthToken.objects.get(user=staff)
        # Only a digest is stored: nothing in the row is the token.
        assert token not in (stored.digest, stored.token_key) and stored.digest != token
        assert stored.expiry is not None
        assert request("GET", f"{server.base}/api/tickets/", headers=_auth(token)).status == 200
        # The admin's list shows owner and dates, never the token nor its first characters (the
        # stored lookup key). knox's primary key is the digest, so it is in the change links.
        answer, opener = _admin_login(server.base, "token-admin", PASSWORD)
        assert answer.status == 200
        with opener.open(f"{server.base}/admin/knox/authtoken/", timeout=120) as page:
            listing = page.read().decode()
        assert "token-admin" in listing
        for secret in (token, stored.token_key):
            assert secret not in listing
        # An expired token is refused, and the row goes.
        AuthToken.objects.filter(pk=stored.pk).update(expiry=stored.created - timedelta(seconds=1))
        expired = request("GET", f"{server.base}/api/tickets/", headers=_auth(token))
    assert expired.status == 401
    assert expired.headers["www-authenticate"] == "Token"
    assert not AuthToken.objects.filter(pk=stored.pk).exists()


def test_a_malformed_token_is_a_401():
    headers = ["Token " + "g" * 64, "Token " + "a" * 63, "Token \u00e9\u00e9", "Token abc def", "Token"]
    with asgi_server() as server:
        answers = [
            # As UTF-8 bytes on the wire: knox decoded them as UTF-8 and raised on others.
            request(
                "GET", f"{server.base}/api/tickets/", headers={"Authorization": h.encode().decode("latin-1")}
            )
            for h in [*headers, "Token \u00ff".encode("latin-1").decode("latin-1")]
        ]
    for answer in answers:
        assert answer.status == 401, answer.body
        assert answer.headers["www-authenticate"] == "Token"


PRODUCTION = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": generated(),
    "ALLOWED_HOSTS": "127.0.0.1",
    "DEBUG": "0",
    "STATIC_MANIFEST": "0",  # no collectstatic in the test tree
    "MAILGUN_API_KEY": "key-security-test",
    "MAILGUN_SENDER_DOMAIN": "mg.example.com",
    "MAILGUN_WEBHOOK_SIGNING_KEY": generated(),
    "DEFAULT_FROM_EMAIL": "Helpdesk <helpdesk@mg.example.com>",
    "BACKUP_AGE_RECIPIENTS": "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
    "REALTIME_APP_KEY": "helpdesk-security-key",
    "REALTIME_APP_SECRET": generated(),
    "BACKUP_MANIFEST_KEY": generated(),
    "BACKUP_ALLOW_LOCAL": "true",
    "SECURE_SSL_REDIRECT": "0",  # the test server speaks plain HTTP, no proxy in front
}


def test_schema_and_docs_are_for_operators_only_in_production():
    reader = User.objects.create_user("schema-operator", is_staff=True)
    reader.groups.add(ops_group_named("ops"))  # staff alone is not an operator
    operator = api_token(reader)
    user = api_token(User.objects.create_user("schema-user"))
    with asgi_server(**PRODUCTION) as server:
        answers = {
            (path, who): request("GET", f"{server.base}{path}", headers=headers)
            for path in ("/api/schema/", "/api/docs/")
            for who, headers in (("anonymous", {}), ("user", _auth(user)), ("operator", _auth(operator)))
        }
    for path in ("/api/schema/", "/api/docs/"):
        assert answers[path, "anonymous"].status == 401, answers[path, "anonymous"].body
        assert answers[path, "user"].status == 403
        assert b"/api/ops/" not in answers[path, "anonymous"].body + answers[path, "user"].body
        assert answers[path, "operator"].status == 200
    assert b"/api/ops/failed-jobs/" in answers["/api/schema/", "operator"].body
    assert b"swagger-ui" in answers["/api/docs/", "operator"].body


def test_schema_stays_open_in_development():
    with asgi_server() as server:
        assert request("GET", f"{server.base}/api/schema/").status == 200
