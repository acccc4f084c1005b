"""Tasks only the queueops tests load into a worker (`celery_worker(include=...)`).

Each appends one line per run to a file the test names, so the test can count the runs and
measure their spacing from outside the worker.
"""

import os
import time
from pathlib import Path

from celery import shared_task

from queueops.attempt_counter import runs_before
from queueops.policy import PermanentError, policy_task


def _run(path: str) -> int:
    """Record this run; returns how many runs the file holds now."""
    with open(path, "a") as handle:
        handle.write(f"{time.time():.6f} {os.getpid()}\n")
    return len(Path(path).read_text().splitlines())


@policy_task(name="tests.queueops.flaky", bind=True)
def flaky(self, path: str, failures: int) -> dict:
    runs = _run(path)
    if runs <= failures:
        raise RuntimeError(f"failure {runs} of {failures}")
    return {"runs": runs, "attempt": self.request.attempt, "runs_before": runs_before(self.request)}


@policy_task(name="tests.queueops.always_fails")
def always_fails(path: str, note: str = "") -> None:
    _run(path)
    raise ValueError(f"always fails {note}".strip())


@policy_task(name="tests.queueops.permanent")
def permanent(path: str) -> None:
    _run(path)
    raise PermanentError("retrying cannot help")


@policy_task(name="tests.queueops.declared_permanent", permanent_errors=(KeyError,))
def declared_permanent(path: str) -> None:
    _run(path)
    raise KeyError("missing")


@policy_task(name="tests.queueops.five_tries", tries=5, backoff=(0.3,))
def five_tries(path: str) -> None:
    _run(path)
    raise RuntimeError("five tries")


@policy_task(name="tests.queueops.fails_unless")
def fails_unless(path: str, flag: str) -> str:
    _run(path)
    if not os.path.exists(flag):
        raise RuntimeError("flag file missing")
    return "ok"


@policy_task(name="tests.queueops.slow_first", bind=True)
def slow_first(self, path: str, seconds: float) -> dict:
    """The first run sleeps long enough to be killed; later runs return at once."""
    runs = _run(path)
    if runs == 1:
        time.sleep(seconds)
    return {"runs": runs, "attempt": self.request.attempt, "pid": os.getpid()}


@shared_task(name="tests.queueops.plain")
def plain(x: int) -> int:
    return x


@shared_task(name="tests.queueops.sleep_then_mark")
def sleep_then_mark(path: str, seconds: float) -> int:
    """Records its start in `path`, sleeps, then its end in `path`.done: a task in flight."""
    _run(path)
    time.sleep(seconds)
    _run(f"{path}.done")
    return os.getpid()


@policy_task(name="tests.queueops.permanent_with")
def permanent_with(path: str, *args, **kwargs) -> None:
    """Fails at once whatever else it is given (arguments the failed-job table may refuse)."""
    _run(path)
    raise PermanentError("retrying cannot help")
