"""A client that does not read its response holds no request thread for longer than WEB_SEND_TIMEOUT.

Django sends a response from inside the request's thread slot (opsproject/http_threads.py), and
uvicorn's send waits while the client's socket is full. Two anonymous connections asking for a
large static file (pipelined) and never reading held both of WEB_THREADS=2 for as long as they stayed
open: every other request waited. Over raw sockets against a real uvicorn serving opsproject.asgi.
"""

from __future__ import annotations

import socket

import pytest

from tests.reliability.fuzz_http import unexpected_tracebacks
from tests.security.support import asgi_server, read_until_closed, request
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 2
# Two megabytes; asked for eight times on one connection (pipelined), far past what the sockets
# between client and server buffer.
BIG = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js.map"
PIPELINED = 8


def _stalled_reader(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window, then no reads
    sock.settimeout(120)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {BIG} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode() * PIPELINED)
    return sock


def test_a_client_that_stops_reading_frees_its_thread():
    with asgi_server(WEB_THREADS=str(THREADS), WEB_SEND_TIMEOUT="2") as server:
        whole = request("GET", f"{server.base}{BIG}")
        assert whole.status == 200 and len(whole.body) > 1_000_000
        readers = [_stalled_reader(server.port) for _ in range(THREADS * 2)]
        try:
            # Every thread is taken by a reader that reads nothing; an honest client is still
            # served once their sends run out of time.
            honest = request("GET", f"{server.base}/api/tickets/")
            # Each stalled response is abandoned; only then does a reader read (reading earlier
            # would take the response in full). What they get is less than they asked for.
            wait_until(
                lambda: (
                    sum("response abandoned" in line for line in list(server.process.lines)) >= len(readers)
                ),
                timeout=120,
                what="every stalled response abandoned",
            )
            received = [len(read_until_closed(reader)) for reader in readers]
        finally:
            for reader in readers:
                reader.close()
        lines = list(server.process.lines)
    assert honest.status == 401
    assert all(size < len(whole.body) * PIPELINED for size in received), received
    assert unexpected_tracebacks(lines, ()) == []
