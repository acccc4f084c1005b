"""Real servers for the fuzz tests: a gunicorn of the project, a keep-alive client, their log read."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.support.celery_worker import child_env
from tests.support.processes import BIN, ManagedProcess, free_port, running


@dataclass
class Server:
    process: ManagedProcess
    port: int


@contextmanager
def gunicorn_server(**env: str) -> Iterator[Server]:
    """gunicorn serving the project's WSGI app (one worker, one thread, keep-alive) on the test database.

    No access log: thousands of requests would only fill the log the tests search for tracebacks.
    """
    port = free_port()
    argv = [str(BIN / "gunicorn"), "opsproject.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    argv += ["--workers", "1", "--worker-class", "gthread", "--threads", "1", "--keep-alive", "30"]
    with running(argv, env={**child_env(), **env}) as process:
        process.wait_for_line(r"Booting worker", timeout=60)
        _wait_until_answering(port, process)
        yield Server(process, port)


def _wait_until_answering(port: int, process: ManagedProcess, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/health/live")
            connection.getresponse().read()
            return
        except OSError as error:
            if process.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"gunicorn did not answer: {error}\n{process.output[-3000:]}") from None
            time.sleep(0.2)
        finally:
            connection.close()


class KeepAliveClient:
    """One HTTP/1.1 connection reused for every request (reopened when the server closed it)."""

    def __init__(self, port: int, timeout: float = 30.0):
        self.port = port
        self.timeout = timeout
        self.connection = self._open()

    def _open(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)

    def post(self, path: str, body: bytes, content_type: str | None) -> tuple[int, bytes]:
        headers = {"Content-Type": content_type} if content_type is not None else {}
        try:
            return self._send(path, body, headers)
        except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
            # The server closed the idle connection (or after refusing a body): once more on a new one.
            self.close()
            self.connection = self._open()
            return self._send(path, body, headers)

    def _send(self, path: str, body: bytes, headers: dict) -> tuple[int, bytes]:
        self.connection.request("POST", path, body=body, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        if response.will_close:
            self.close()
            self.connection = self._open()
        return response.status, data

    def close(self) -> None:
        self.connection.close()


def unexpected_tracebacks(lines: list[str], expected: tuple[str, ...]) -> list[str]:
    """Each traceback in a server's log whose preceding line is none of `expected`, with context.

    Servers log some refusals they handle with a traceback (Django a body over its size limit,
    uvicorn a text frame that is not UTF-8); those are the expected ones.
    """
    found = []
    for index, line in enumerate(lines):
        before = lines[index - 1] if index else ""
        if line.startswith("Traceback") and not any(reason in before for reason in expected):
            found.append("\n".join(lines[max(0, index - 3) : index + 40]))
    return found
