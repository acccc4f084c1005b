"""Reading a request's body on the event loop, bounded in time and size, before it takes a thread.

A request thread is the scarce thing (opsproject/http_threads.py): a body is read here within
`WEB_BODY_TIMEOUT` seconds (408 after) and `WEB_BODY_MAX_BYTES` bytes (413 above, from
Content-Length before a byte is read when it says so), so a client trickling its body holds none.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestAborted


class BodyRefused(Exception):
    """The body is not acceptable: `status` and `message` are what the client gets."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def declared_length(scope) -> int | None:
    """The Content-Length header as a number; None if absent or not a plain number."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            if not value.isdigit():
                return None
            # int() refuses more than 4300 digits; anything past 18 is over every limit anyway.
            return int(value) if len(value) <= 18 else sys.maxsize
    return None


async def read_body(scope, receive):
    """The body as a file positioned at 0; raises BodyRefused or RequestAborted (client left)."""
    limit, timeout = settings.WEB_BODY_MAX_BYTES, settings.WEB_BODY_TIMEOUT
    length = declared_length(scope)
    if length is not None and length > limit:
        raise BodyRefused(413, f"Request body larger than {limit} bytes.")
    # Like Django's own read: in memory up to FILE_UPLOAD_MAX_MEMORY_SIZE, then a temporary file.
    body = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, mode="w+b")  # noqa: SIM115 - handed to the request, which closes it
    size = 0
    try:
        async with asyncio.timeout(timeout):  # for the whole body, however it is cut up
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise RequestAborted()
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise BodyRefused(413, f"Request body larger than {limit} bytes.")
                if chunk:
                    if body.tell() + len(chunk) > settings.FILE_UPLOAD_MAX_MEMORY_SIZE:
                        # Disk writes go to a thread of their own: never one of the request threads.
                        await sync_to_async(body.write, thread_sensitive=False)(chunk)
                    else:
                        body.write(chunk)
                if not message.get("more_body", False):
                    break
    except BaseException as error:
        body.close()
        if isinstance(error, TimeoutError):
            raise BodyRefused(408, f"Request body not received within {timeout:g} seconds.") from None
        raise
    body.seek(0)
    return body


async def refuse(send, refusal: BodyRefused) -> None:
    """Answer a refused body in plain text and ask the server to close the connection."""
    payload = (refusal.message + "\n").encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(payload)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
