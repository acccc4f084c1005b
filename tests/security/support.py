"""What the security tests attack with: a real uvicorn serving opsproject.asgi, raw HTTP."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.contrib.auth.models import User
from knox.models import AuthToken

from tests.support.celery_worker import child_env
from tests.support.processes import BIN, ManagedProcess, free_port, running


@dataclass
class Server:
    process: ManagedProcess
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def asgi_server(**env: str) -> Iterator[Server]:
    """uvicorn serving opsproject.asgi on this test's database and Redis, put down afterwards."""
    port = free_port()
    argv = [str(BIN / "uvicorn"), "opsproject.asgi:application", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--lifespan", "off", "--log-level", "info"]
    with running(argv, env={**child_env(), **env}) as process:
        process.wait_for_line(r"Uvicorn running on", timeout=60)
        yield Server(process, port)


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self):
        return json.loads(self.body)


def request(method: str, url: str, body: bytes | None = None, headers: dict | None = None) -> Response:
    """One request over urllib; an error status comes back like any other."""
    req = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        # A guard against a hang, not a measure: the assertions are on what comes back.
        with urllib.request.urlopen(req, timeout=120) as response:
            return Response(response.status, _names_lowered(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, _names_lowered(error.headers), error.read())


def _names_lowered(headers) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def raw_exchange(port: int, head: bytes, timeout: float = 120) -> bytes:
    """Send `head` on a new socket and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        return read_until_closed(sock)


def read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def status_of(raw: bytes) -> int:
    """The status code of a raw HTTP/1.1 response."""
    return int(raw.split(b" ", 2)[1])


def api_token(user: User) -> str:
    """A fresh API token of `user`: the value a client sends after `Token `."""
    return AuthToken.objects.create(user=user)[1]
