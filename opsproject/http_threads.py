"""Django's HTTP under ASGI on a fixed set of threads, so database connections are reused.

Django's ASGIHandler runs each request in a thread made for it, so under uvicorn every request
opened a new database connection (Django ticket #33497). Here requests share `WEB_THREADS`
long-lived threads (asgiref's ThreadSensitiveContext with a one-thread executor each), so
CONN_MAX_AGE and CONN_HEALTH_CHECKS work as usual, and a request finding every thread busy
waits for one. A request takes a thread only once its body is in (opsproject/http_body.py), and
gives it back once Django has made the response: `_Outbox` sends it from a task of its own, and
drops it when the client takes none of it for WEB_SEND_TIMEOUT seconds. `saturated_for` (the
`web` health check) says how long every thread has been busy. docs/ARCHITECTURE.md has more.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from concurrent.futures import ThreadPoolExecutor

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler

from opsproject import http_body

log = logging.getLogger(__name__)

# The handlers of this process (one, in practice), for the health check's question.
_handlers: weakref.WeakSet = weakref.WeakSet()


def saturated_for() -> float | None:
    """Seconds since every request thread of this process became busy; 0 if one is free; None
    if this process serves no HTTP (a command, a worker)."""
    handlers = list(_handlers)
    if not handlers:
        return None
    now = time.monotonic()
    return max((now - h.saturated_since if h.saturated_since is not None else 0.0) for h in handlers)


class _Received:
    """The `receive` of a request whose body was read already (http_body), carrying that body."""

    def __init__(self, receive, body):
        self.receive = receive
        self.body = body

    async def __call__(self):
        return await self.receive()


class _Outbox:
    """The `send` of a request: Django's messages are queued and a task of their own sends them.

    So the thread goes back to the pool as soon as Django has made the response, however slowly
    the client reads it. A message the client has not taken within `timeout` seconds abandons
    the rest of the response; uvicorn then closes the connection.
    """

    def __init__(self, send, timeout: float):
        self.send = send
        self.timeout = timeout
        self.queue: asyncio.Queue = asyncio.Queue()
        self.delivery = asyncio.create_task(self._deliver())

    async def __call__(self, message) -> None:
        self.queue.put_nowait(message)

    async def _deliver(self) -> None:
        while (message := await self.queue.get()) is not None:
            try:
                async with asyncio.timeout(self.timeout):
                    await self.send(message)
            except TimeoutError:
                log.warning("client took no response data for %g s: response abandoned", self.timeout)
                return

    async def close(self) -> None:
        """Wait until every queued message is sent or the response is abandoned."""
        self.queue.put_nowait(None)
        await self.delivery


class ThreadPoolASGIHandler(ASGIHandler):
    """ASGIHandler whose requests share `threads` long-lived threads (see the module docstring)."""

    def __init__(self, threads: int):
        super().__init__()  # threads >= 1: settings refuses a smaller WEB_THREADS at start
        self.threads = threads
        self._executors = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"web-{n}") for n in range(threads)
        ]
        self._idle: asyncio.Queue | None = None
        self.saturated_since: float | None = None  # time.monotonic() when the last thread was taken
        _handlers.add(self)

    def _queue(self) -> asyncio.Queue:
        # Made on first use, inside the server's event loop.
        if self._idle is None:
            self._idle = asyncio.Queue()
            for executor in self._executors:
                self._idle.put_nowait(executor)
        return self._idle

    def load_middleware(self, is_async=False):
        # The synchronous chain, whatever Django asks for: the whole request then crosses into a
        # thread once (get_response_async below). Built for async, a chain with sync-only
        # middleware (ours, WhiteNoise's) hops between the event loop and a thread at each of
        # them: dozens of thread switches per request.
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        try:
            body = await http_body.read_body(scope, receive)
        except RequestAborted:
            return
        except http_body.BodyRefused as refusal:
            await http_body.refuse(send, refusal)
            return
        idle = self._queue()
        executor = await idle.get()
        if idle.empty() and self.saturated_since is None:
            self.saturated_since = time.monotonic()
        outbox = _Outbox(send, settings.WEB_SEND_TIMEOUT)
        try:
            try:
                async with ThreadSensitiveContext(executor=executor):
                    await self.handle(scope, _Received(receive, body), outbox)
            finally:
                idle.put_nowait(executor)
                self.saturated_since = None
        finally:
            await outbox.close()

    async def read_body(self, receive):
        # handle() reads the body; ours was read before the thread was taken (__call__).
        if isinstance(receive, _Received):
            return receive.body
        return await super().read_body(receive)


def get_asgi_application(threads: int) -> ThreadPoolASGIHandler:
    """django.core.asgi.get_asgi_application(), with the request threads pooled."""
    django.setup(set_prefix=False)
    return ThreadPoolASGIHandler(threads)
