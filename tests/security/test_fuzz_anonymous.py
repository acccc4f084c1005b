"""No anonymous input makes a 5xx: hypothesis fuzzes every anonymous endpoint over real HTTP.

Each anonymous door of the URL conf (health probes, /metrics, /broadcasting/*, the Mailgun
webhook, the API and its token endpoint, the schema, the admin login) gets arbitrary header
values (non-ASCII as UTF-8 bytes, control characters, huge) and query strings (any text, invalid
percent-encoded UTF-8, huge numbers), as raw bytes on a socket to a real uvicorn serving
opsproject.asgi. A 5xx is a crash, and a crash mails ADMINS; the only one allowed is a health
probe's 503, and then its body must be the health JSON.
"""

from __future__ import annotations

import json
import socket
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.fuzz_http import unexpected_tracebacks
from tests.security.support import asgi_server, read_until_closed
from tests.support.processes import ManagedProcess

pytestmark = pytest.mark.django_db(transaction=True)

HEALTH = ("/up", "/health", "/health/ready", "/health/live", "/health/database", "/health/nope")
ENDPOINTS = (
    *HEALTH,
    "/metrics",
    "/broadcasting/history",
    "/broadcasting/auth",
    "/anymail/mailgun/tracking/",
    "/api/tickets/",
    "/api/tickets/1/",
    "/api/auth/token/",
    "/api/ops/",
    "/api/schema/",
    "/api/docs/",
    "/admin/login/",
    "/admin/",
)
# The names the endpoints read, so the fuzz reaches their parsing and not only Django's.
PARAMS = ("after", "channel", "fresh", "page", "format", "next", "socket_id", "channel_name", "status", "q")
HEADERS = (
    "Authorization",
    "Cookie",
    "Host",
    "X-Forwarded-For",
    "X-Forwarded-Proto",
    "Content-Type",
    "Accept",
    "Accept-Language",
    "Origin",
    "Referer",
    "X-CSRFToken",
    "If-None-Match",
    "Range",
    "User-Agent",
    "X-Mailgun-Signature",
)


def _values() -> st.SearchStrategy[bytes]:
    text = st.text(max_size=40)
    return st.one_of(
        text.map(str.encode),  # any text, sent as UTF-8 bytes
        st.binary(max_size=40),  # control characters, invalid UTF-8
        st.sampled_from(["Bearer ", "Token ", "Basic ", "sessionid=", "csrftoken="]).flatmap(
            lambda prefix: text.map(lambda rest: (prefix + rest).encode())
        ),
        st.sampled_from(["²", "١٢", "9" * 5000, "-1", "1e9", "\x00", "\U0001d7d8", "../../etc/passwd"]).map(
            str.encode
        ),
        st.integers(min_value=1, max_value=20_000).map(lambda n: b"a" * n),  # huge
    )


def _query() -> st.SearchStrategy[bytes]:
    names = st.one_of(st.sampled_from(PARAMS), st.text(max_size=10)).map(str.encode)
    pair = st.tuples(names, _values()).map(lambda kv: quote_from_bytes(kv[0]) + "=" + quote_from_bytes(kv[1]))
    raw = st.binary(max_size=30).map(lambda b: b.replace(b" ", b"+").replace(b"#", b"").decode("latin-1"))
    return st.one_of(st.lists(pair, max_size=4).map("&".join), raw).map(lambda q: q.encode("latin-1"))


def _clean(value: bytes) -> bytes:
    # A line break would end the header: that is a different request, not a header value.
    return value.replace(b"\r", b"").replace(b"\n", b"")


def exchange(port: int, method: str, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    lines = [method.encode() + b" " + target + b" HTTP/1.1"]
    names = {name.lower() for name, _ in headers}
    if b"host" not in names:
        lines.append(b"Host: 127.0.0.1")
    lines += [name + b": " + _clean(value) for name, value in headers]
    lines += [b"Content-Length: " + str(len(body)).encode(), b"Connection: close"]
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        return read_until_closed(sock)


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    # Tokens set, so the fuzzed Authorization headers are compared with something.
    tokens = {
        "HEALTH_TOKEN": "a-health-token-for-the-fuzz-tests",
        "METRICS_TOKEN": "a-metrics-token-for-the-fuzz",
    }
    with asgi_server(METRICS_ALLOWED_IPS="", **tokens) as running:
        yield running


def _assert_no_crash(raw: bytes, path: str, process: ManagedProcess) -> None:
    _, _, body = raw.partition(b"\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 "), raw[:200]
    status = int(raw.split(b" ", 2)[1])
    if status == 503 and path in HEALTH:
        assert json.loads(body)["status"] == "fail", body[:500]  # a failed check, not a crash
        return
    assert status < 500, f"{path} answered {status}:\n{raw[:2000]!r}\n{process.output[-3000:]}"


@pytest.mark.parametrize("path", ENDPOINTS)
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(
    method=st.sampled_from(["GET", "HEAD", "POST"]),
    query=_query(),
    headers=st.lists(
        st.tuples(st.one_of(st.sampled_from(HEADERS), st.from_regex(r"\AX-[A-Za-z0-9-]{1,20}\Z")), _values()),
        max_size=5,
    ),
    body=st.binary(max_size=200),
)
def test_no_anonymous_input_makes_a_5xx(server, path, method, query, headers, body):
    target = path.encode() + (b"?" + query if query else b"")
    raw = exchange(server.port, method, target, [(n.encode(), v) for n, v in headers], body)
    _assert_no_crash(raw, path, server.process)


def test_the_reported_crashes_are_client_errors(server):
    """The two inputs of the issue: a non-ASCII bearer token on /metrics, `after=²` on history."""
    raw = exchange(server.port, "GET", b"/metrics", [(b"Authorization", "Bearer é²".encode())], b"")
    assert raw.startswith(b"HTTP/1.1 403"), raw[:300]
    for after in ("%C2%B2", "%D9%A1", "9" * 5000, "-1"):
        raw = exchange(
            server.port, "GET", b"/broadcasting/history?channel=public&after=" + after.encode(), [], b""
        )
        assert raw.startswith(b"HTTP/1.1 400"), raw[:300]
        assert b"after must be an event_id" in raw


def test_the_server_logged_no_traceback(server):
    """Last in the module: nothing the fuzz sent made the server log a crash."""
    found = unexpected_tracebacks(server.process.lines, ())
    assert not found, "\n\n".join(found[:3])
