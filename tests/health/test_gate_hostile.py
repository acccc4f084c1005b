"""`manage.py health_gate` against a real HTTP server that answers anything but a health document.

Each hostile answer is a failing probe: the gate gives up at its timeout with exit 1 and one
line naming what was wrong, never a traceback.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from health.client import MAX_BODY
from tests.health.support import manage

pytestmark = pytest.mark.django_db(transaction=True)  # manage() runs on the test database


def document(checks) -> bytes:
    return json.dumps({"status": "pass", "checks": checks}).encode()


# Bodies served with a 200 (the status-a-dict one with a 503), then answers sent as raw bytes.
ANSWERS = {
    "checks-not-a-dict": document(["database:responseTime"]),
    "checks-a-string": document("all good"),
    "entries-not-a-list": document({"database:responseTime": {"status": "pass"}}),
    "entry-not-a-dict": document({"database:responseTime": ["pass"]}),
    "entry-without-status": document({"database:responseTime": [{"output": "fine"}]}),
    "status-not-a-string": document({"database:responseTime": [{"status": ["pass"]}]}),
    "status-a-dict": json.dumps({"status": {"pass": 1}}).encode(),
    "output-not-a-string": json.dumps({"status": "fail", "output": {"a": 1}}).encode(),
    "component-id-not-a-string": document({"db:x": [{"status": "fail", "componentId": [1]}]}),
    "not-json": b"<html>\n<body>Bad gateway</body>\n</html>",
    "not-utf8": b'{"status": "\xff\xfe"}',
    "json-list": b'["status", "pass"]',
    "deep-nesting": b"[" * 200_000 + b"]" * 200_000,
    "huge": b'{"status": "pass", "output": "' + b"x" * (MAX_BODY + 10) + b'"}',
    # A well-formed document whose failing check's name would print as several lines.
    "newline-keys": document({"db:\nx\r\nsecond line": [{"status": "fail"}]}),
    "empty": b"",
}
RAW = {
    # Not HTTP at all, and an answer cut short of its Content-Length.
    "garbage-status-line": b"HELLO THERE\r\n\r\n",
    "short-body": b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + document({})[:12],
}


class Hostile(BaseHTTPRequestHandler):
    def do_GET(self):
        name = self.path.strip("/").split("/")[0]
        if name in RAW:
            self.wfile.write(RAW[name])
            return
        body = ANSWERS[name]
        self.send_response(200 if name != "status-a-dict" else 503)
        self.send_header("Content-Type", "application/health+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


@pytest.mark.parametrize("name", [*ANSWERS, *RAW])
def test_gate_fails_on_a_hostile_answer_with_one_line(server, name):
    code, output, _ = manage(
        "health_gate", "--url", f"{server}/{name}", "--interval", "0.2", "--timeout", "0.5"
    )
    assert code == 1, output
    lines = output.splitlines()
    assert all(line.startswith(("probe ", "gave up after ")) for line in lines), output
    assert lines[-1].startswith("gave up after") and len(lines[-1]) < 600, "one bounded line"
    if name == "newline-keys":
        assert "(HTTP 200): db: x second line, required database missing" in lines[-1], output
    else:
        assert "last probe: unreachable: " in lines[-1], output


@pytest.mark.parametrize("name", ["checks-not-a-dict", "entry-without-status", "huge"])
def test_health_url_on_a_hostile_answer_is_unreachable(server, name):
    code, output, _ = manage("health", "--url", f"{server}/{name}")
    assert code == 2, output
    assert "not a health document" in output and "Traceback" not in output
