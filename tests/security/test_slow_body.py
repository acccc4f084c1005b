"""Slow and oversized bodies hold no request thread, and readiness fails when none is free.

The attack of issue 18: with WEB_THREADS=4, four connections each sending one byte of a
100-byte body held every thread, and /api/tickets/ timed out for everyone while /health/ready
stayed green. Over raw sockets against a real uvicorn serving opsproject.asgi.
"""

from __future__ import annotations

import socket
import threading

import MySQLdb
import pytest
from django.contrib.auth.models import User
from django.db import connection

from tests.security.support import api_token, asgi_server, raw_exchange, read_until_closed, request, status_of
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 4
SLOW_BODY = (
    b"POST /api/tickets/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: 100\r\n\r\n"
)


SLOW_CHUNKS = (
    b"POST /api/tickets/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)


class Trickler(threading.Thread):
    """Sends the head of a 100-byte body, then one byte a second until the server answers;
    `chunked`, the same as one-byte chunks with no length declared."""

    def __init__(self, port: int, chunked: bool = False):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.byte = b"1\r\n \r\n" if chunked else b" "
        self.sock.sendall((SLOW_CHUNKS + b"1\r\n{\r\n") if chunked else (SLOW_BODY + b"{"))
        self.answer = b""
        self.sent = 1

    def run(self) -> None:
        self.sock.settimeout(1.0)
        try:
            while True:
                try:
                    chunk = self.sock.recv(65536)
                except TimeoutError:
                    if self.sent < 99:  # never the last byte: the body must stay incomplete
                        self.sock.sendall(self.byte)
                        self.sent += 1
                    continue
                if not chunk:
                    return  # closed by the server
                self.answer += chunk
        except OSError:
            return
        finally:
            self.sock.close()


def test_tricklers_hold_no_thread_and_get_408():
    token = api_token(User.objects.create_user("slow-body-victim"))
    with asgi_server(WEB_THREADS=str(THREADS), WEB_BODY_TIMEOUT="15") as server:
        tricklers = [Trickler(server.port, chunked=n % 2 == 1) for n in range(THREADS * 2)]
        for trickler in tricklers:
            trickler.start()
        # While they trickle, an honest client is served at once.
        honest = request("GET", f"{server.base}/api/tickets/", headers={"Authorization": f"Token {token}"})
        still_trickling = sum(trickler.is_alive() for trickler in tricklers)
        assert honest.status == 200, honest.body
        assert still_trickling == len(tricklers), "the tricklers were answered before the honest client"
        for trickler in tricklers:
            trickler.join(120)
        # Each trickler was refused with 408 and its connection closed (the thread ended on EOF).
        for trickler in tricklers:
            assert not trickler.is_alive()
            assert status_of(trickler.answer) == 408, trickler.answer
            assert b"Request body not received within 15 seconds" in trickler.answer
            assert b"connection: close" in trickler.answer.lower()


def test_a_body_over_the_limit_is_refused_413_before_it_is_read():
    with asgi_server(WEB_BODY_MAX_BYTES="1000") as server:
        # Declared too large: refused from the header, while the client has sent nothing more.
        head = (
            b"POST /api/tickets/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 5000000\r\n\r\n"
        )
        raw = raw_exchange(server.port, head)
        assert status_of(raw) == 413, raw
        assert b"Request body larger than 1000 bytes" in raw
        # A length past what int() parses is just as large, not a crash.
        huge = head.replace(b"5000000", b"9" * 5000)
        raw = raw_exchange(server.port, huge)
        assert status_of(raw) in (400, 413), raw
        # Chunked, so no length is declared: refused once more than the limit has arrived.
        chunked = (
            b"POST /anymail/mailgun/tracking/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"x" * 600
        chunked += b"%x\r\n%s\r\n" % (len(chunk), chunk) * 3 + b"0\r\n\r\n"
        raw = raw_exchange(server.port, chunked)
        assert status_of(raw) == 413, raw
        # A body within the limit still reaches Django (refused there as unauthenticated).
        small = request(
            "POST", f"{server.base}/api/tickets/", body=b"{}", headers={"Content-Type": "application/json"}
        )
        assert small.status == 401


def _lock_tickets():
    db = connection.settings_dict
    locker = MySQLdb.connect(
        host=db["HOST"] or "127.0.0.1", port=int(db["PORT"] or 3306), user=db["USER"], db=db["NAME"]
    )
    locker.cursor().execute("LOCK TABLES helpdesk_ticket WRITE")
    return locker


def test_readiness_fails_while_no_thread_is_free_and_recovers():
    if connection.vendor != "mysql":
        pytest.skip("holds the request threads with a MariaDB table lock")
    token = api_token(User.objects.create_user("thread-holder"))
    env = {"WEB_THREADS": "2", "WEB_THREADS_BUSY_FAIL": "2", "HEALTH_CACHE_SECONDS": "0"}
    env["HEALTH_TOKEN"] = "a-health-token-for-the-security-tests"
    auth = {"Authorization": f"Bearer {env['HEALTH_TOKEN']}"}
    with asgi_server(**env) as server:
        assert request("GET", f"{server.base}/health/ready", headers=auth).status == 200
        locker = _lock_tickets()
        holders = []
        try:
            # Two requests wait on the locked table in the request threads: none is free.
            for _ in range(2):
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=120)
                sock.sendall(
                    b"GET /api/tickets/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Authorization: Token " + token.encode() + b"\r\nConnection: close\r\n\r\n"
                )
                holders.append(sock)

            def not_ready():
                answer = request("GET", f"{server.base}/health/ready", headers=auth)
                return answer if answer.status == 503 else None

            answer = wait_until(not_ready, timeout=60, what="/health/ready to fail")
            document = answer.json()
            assert document["status"] == "fail"
            (saturation,) = document["checks"]["web:saturation"]
            assert saturation["status"] == "fail"
            assert "request threads busy" in saturation["output"]
        finally:
            locker.close()  # releases the lock: the held requests finish
        for sock in holders:
            with sock:
                assert status_of(read_until_closed(sock)) == 200

        def ready():
            return request("GET", f"{server.base}/health/ready", headers=auth).status == 200

        wait_until(ready, timeout=60, what="/health/ready to recover")
