"""A TCP forwarder that counts the connections it accepted: who opened how many, exactly.

A server's own counters (MariaDB's `Connections`, Redis' `total_connections_received`) count
every client of a server the whole machine shares; put one of these in front of it and only the
process under test connects through it.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from contextlib import suppress


def _pump(source: socket.socket, target: socket.socket) -> None:
    with suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    with suppress(OSError):
        target.shutdown(socket.SHUT_WR)


class CountingProxy(socketserver.ThreadingTCPServer):
    """Forwards 127.0.0.1:<port> to `upstream` (host, port); `accepted` counts connections."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.accepted = 0
        self._lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Forward)
        self.port = self.server_address[1]
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def count_one(self) -> None:
        with self._lock:
            self.accepted += 1

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()


class _Forward(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server: CountingProxy = self.server  # type: ignore[assignment]
        server.count_one()
        with socket.create_connection(server.upstream, timeout=30) as upstream:
            upstream.settimeout(None)
            back = threading.Thread(target=_pump, args=(upstream, self.request), daemon=True)
            back.start()
            _pump(self.request, upstream)
            back.join(30)
