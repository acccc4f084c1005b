"""The trivial task of the broker kill tests: one line when it starts and one when it ends.

Lines go to a file the test names, appended with O_APPEND (one write each: whole lines even
from several processes), so the test reads from outside which worker ran what and finished it.
"""

from __future__ import annotations

import os
import time

from celery import shared_task


def _line(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (text + "\n").encode())
    finally:
        os.close(fd)


@shared_task(name="reliability.broker_mark", bind=True, ignore_result=True)
def broker_mark(self, path: str, key: str, seconds: float = 0.0) -> None:
    me = f"{self.request.hostname} {os.getpid()}"
    _line(path, f"start {key} {me}")
    time.sleep(seconds)  # long enough to be running when a kill comes
    _line(path, f"done {key} {me}")
