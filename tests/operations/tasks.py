"""Tasks only the operations tests load into their workers (`celery_worker(include=...)`)."""

import os
import socket

from queueops.policy import PermanentError, policy_task


def _mark(path: str, what: str) -> None:
    with open(path, "a") as handle:
        handle.write(f"{what} {os.getpid()} {socket.gethostname()}\n")


@policy_task(name="tests.operations.succeed")
def succeed(path: str) -> str:
    _mark(path, "ok")
    return "ok"


@policy_task(name="tests.operations.fail")
def fail(path: str) -> None:
    _mark(path, "fail")
    raise PermanentError("fails on purpose")
