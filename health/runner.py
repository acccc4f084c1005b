"""The health runner: every check runs concurrently under its deadline, cached and single-flight.

What it promises (docs/ARCHITECTURE.md, "Health", says how): no probe waits past its deadline
(`HEALTH_TIMEOUT`, or a check's shorter timeout) and is then told `timed out after N s`; a
check has one run at a time, across the processes of a host too (`health.shared`), so a hung
check holds one thread; a finished run is reused for `HEALTH_CACHE_SECONDS` unless `fresh`.
`run()` waits in the calling thread (commands); `arun()` awaits without blocking the event
loop (the ASGI views). Neither ever raises because of a check.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import hashlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from math import floor
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from health import redact
from health.registry import Check, configured_checks
from health.results import FAIL, WARN, Result, worst
from health.shared import SharedResults

logger = logging.getLogger("health")

# Threads are started only as checks need them, and single flight keeps at most one per
# configured check busy, hung or not; the cap guards against a configuration gone wild.
MAX_THREADS = 32
_POLL_SECONDS = 0.01  # how often a process waiting on another's run looks for its result


class _DaemonPool:
    """A minimal thread pool whose threads never keep the interpreter alive.

    concurrent.futures' pool joins its threads at exit, so one hung check would hold
    `manage.py health` open long after it printed its answer.
    """

    def __init__(self, max_threads: int):
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._max = max_threads
        self._started = 0

    def submit(self, function: Callable[..., None], *args: Any) -> None:
        self._jobs.put((function, args))
        if self._idle.acquire(blocking=False):
            return
        with self._lock:
            if self._started < self._max:
                self._started += 1
                name = f"health-check-{self._started}"
                threading.Thread(target=self._work, name=name, daemon=True).start()

    def _work(self) -> None:
        while True:
            function, args = self._jobs.get()
            try:
                function(*args)
            except BaseException:  # a job must never take its thread down with it
                logger.exception("health runner job failed")
            self._idle.release()


_pool = _DaemonPool(MAX_THREADS)
_local = threading.local()


def current_timeout() -> float:
    """Seconds the running check has: checks use it for their clients' own timeouts."""
    return getattr(_local, "timeout", None) or float(settings.HEALTH_TIMEOUT)


# --- one flight per check -------------------------------------------------------------------


@dataclass(eq=False)
class _Flight:
    """What this process knows of one check: its last results and the run in progress."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    results: tuple[Result, ...] | None = None
    fresh_until: float = 0.0  # time.monotonic()
    future: concurrent.futures.Future | None = None
    deadline: float = 0.0  # time.monotonic() the run in progress is due by


_flights: dict[str, _Flight] = {}
_flights_lock = threading.Lock()


def _flight(check: Check) -> _Flight:
    flight = _flights.get(check.path)
    if flight is None:
        with _flights_lock:
            flight = _flights.setdefault(check.path, _Flight())
    return flight


def deadline(check: Check, override: float | None = None) -> float:
    """Seconds a probe waits for `check`: `override` if given, else its own timeout capped
    at HEALTH_TIMEOUT (a check may ask for less time, never for more)."""
    if override:
        return float(override)
    limit = float(settings.HEALTH_TIMEOUT)
    return min(float(check.timeout), limit) if check.timeout else limit


def _made(check: Check, output: str) -> Result:
    """A fail the runner reports on the check's behalf."""
    return Result(component=check.component, status=FAIL, measurement=check.measurement, output=output)


def _timed_out(check: Check, timeout: float) -> Result:
    return _made(check, f"timed out after {timeout:g} s")


@dataclass
class _Waiting:
    """One check of one probe: either results at hand or a run to wait for."""

    check: Check
    timeout: float
    results: tuple[Result, ...] | None = None
    fresh_until: float = 0.0
    future: concurrent.futures.Future | None = None
    deadline: float = 0.0


def _begin(check: Check, fresh: bool, timeout_override: float | None) -> _Waiting:
    timeout = deadline(check, timeout_override)
    flight = _flight(check)
    now = time.monotonic()
    with flight.lock:
        if not fresh and flight.results is not None and now < flight.fresh_until:
            return _Waiting(check, timeout, results=flight.results, fresh_until=flight.fresh_until)
        if flight.future is None or flight.future.done():
            future: concurrent.futures.Future = concurrent.futures.Future()
            future.set_running_or_notify_cancel()  # a waiter giving up must not cancel it
            flight.future = future
            flight.deadline = now + timeout
            _pool.submit(_execute, check, flight, future, timeout, fresh, flight.deadline)
        # else: the check is still running for an earlier probe; wait for that run.
        return _Waiting(check, timeout, future=flight.future, deadline=flight.deadline)


def _execute(
    check: Check,
    flight: _Flight,
    future: concurrent.futures.Future,
    timeout: float,
    fresh: bool,
    deadline: float,
) -> None:
    results: tuple[Result, ...] = (_made(check, "the check did not finish"),)
    age = 0.0
    try:
        results, age = _run_shared(check, timeout, fresh, deadline)
    finally:
        fresh_until = time.monotonic() + max(0.0, float(settings.HEALTH_CACHE_SECONDS) - age)
        with flight.lock:
            flight.results, flight.fresh_until = results, fresh_until
        future.set_result((results, fresh_until))


def _run_shared(
    check: Check, timeout: float, fresh: bool, deadline: float
) -> tuple[tuple[Result, ...], float]:
    """Results and their age in seconds: this process's run, or another process's."""
    store = _store()
    if store is None or check.per_process:
        return _call(check, timeout), 0.0
    since = time.time()
    if not fresh:
        shared = store.read(check.path)
        if shared and since - shared.written_at < float(settings.HEALTH_CACHE_SECONDS):
            return shared.results, max(0.0, since - shared.written_at)
    while True:
        lock = store.try_lock(check.path)
        # A run that ended after we asked is ours too, whether it ended just before we took
        # the lock (its process writes, then unlocks) or while another process held it.
        shared = store.read(check.path)
        if shared and shared.written_at >= since:
            if lock is not None:
                store.unlock(lock)
            return shared.results, max(0.0, time.time() - shared.written_at)
        if lock is not None:
            try:
                results = _call(check, timeout)
                store.write(check.path, results)
                return results, 0.0
            finally:
                store.unlock(lock)
        if time.monotonic() >= deadline:
            return (_timed_out(check, timeout),), 0.0
        time.sleep(_POLL_SECONDS)


def _call(check: Check, timeout: float) -> tuple[Result, ...]:
    """Run the check function itself; whatever it does, come back with results."""
    _local.timeout = timeout
    started = time.monotonic()
    try:
        returned = check.function()
        results = (returned,) if isinstance(returned, Result) else tuple(returned)
        if not results or not all(isinstance(result, Result) for result in results):
            results = (_made(check, "the check returned no Result"),)
    except Exception as error:
        logger.warning("health check %s raised %s", check.path, redact.redact(repr(error)))
        results = (_made(check, f"{type(error).__name__}: {error}"),)
    finally:
        _local.timeout = None
    if time.monotonic() - started > timeout:
        results = (_timed_out(check, timeout),)
    return tuple(_redacted(result) for result in results)


def _redacted(result: Result) -> Result:
    clean = redact.redact(result.output) if result.output else result.output
    return result if clean == result.output else dataclasses.replace(result, output=clean)


@lru_cache(maxsize=1)
def _store() -> SharedResults | None:
    return SharedResults.open(settings.HEALTH_STATE_DIR, _namespace())


def _namespace() -> str:
    """A digest of what the checks talk to: equal for processes that may share results."""
    from django.db import connections

    config = {
        "settings": settings.SETTINGS_MODULE,
        "databases": {alias: connections[alias].settings_dict for alias in connections},
        "caches": settings.CACHES,
        "storages": settings.STORAGES,
        "media": settings.MEDIA_ROOT,
        "broker": getattr(settings, "CELERY_BROKER_URL", ""),
        "checks": list(settings.HEALTH_CHECKS),
    }
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


# --- probes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """What one probe found: results in check order, the overall status, and their freshness."""

    results: tuple[Result, ...]
    status: str
    max_age: int  # seconds the answer stays true: for Cache-Control

    def as_json(self, *, details: bool) -> dict[str, Any]:
        checks: dict[str, list] = {}
        for result in self.results:
            checks.setdefault(result.key, []).append(result.as_json(details=details))
        return {"status": self.status, "checks": checks}


def overall(results: Iterable[Result], critical: Iterable[str] | None = None) -> str:
    """The worst status, where a failing component that is not critical only warns.

    `critical=None` makes every component critical (the status of one component's probe).
    """
    if critical is None:
        return worst(result.status for result in results)
    critical = set(critical)
    return worst(
        WARN if result.status == FAIL and result.component not in critical else result.status
        for result in results
    )


class _Probe:
    def __init__(self, checks: Sequence[Check] | None, fresh: bool, timeout: float | None):
        self.waiting = [
            _begin(check, fresh, timeout) for check in (configured_checks() if checks is None else checks)
        ]

    def still_due(self) -> tuple[list[_Waiting], float]:
        """The runs worth waiting for (not done, deadline ahead) and seconds to the nearest deadline."""
        now = time.monotonic()
        due = [
            item
            for item in self.waiting
            if item.future is not None and not item.future.done() and item.deadline > now
        ]
        return due, min((item.deadline for item in due), default=now) - now

    def wait(self) -> None:
        while (due := self.still_due())[0]:
            futures = [item.future for item in due[0]]
            concurrent.futures.wait(futures, timeout=due[1], return_when=concurrent.futures.FIRST_COMPLETED)

    async def await_(self) -> None:
        wrapped: dict[int, asyncio.Future] = {}
        while (due := self.still_due())[0]:
            waiters = {wrapped.setdefault(id(item), asyncio.wrap_future(item.future)) for item in due[0]}
            await asyncio.wait(waiters, timeout=due[1], return_when=asyncio.FIRST_COMPLETED)

    def report(self, checks: Sequence[Check] | None) -> Report:
        now = time.monotonic()
        results: list[Result] = []
        fresh_until: list[float] = []
        for item in self.waiting:
            if item.results is None:
                if item.future.done():
                    item.results, item.fresh_until = item.future.result()
                else:  # past its deadline: the run goes on without us
                    item.results, item.fresh_until = (_timed_out(item.check, item.timeout),), now
            results.extend(item.results)
            fresh_until.append(item.fresh_until)
        max_age = max(0, floor(min(fresh_until, default=now) - now))
        critical = settings.HEALTH_CRITICAL if checks is None else None
        return Report(tuple(results), overall(results, critical), max_age)


def run(
    checks: Sequence[Check] | None = None, *, fresh: bool = False, timeout: float | None = None
) -> Report:
    """Probe `checks` and wait for them here, at most until their deadline.

    With `checks=None` every configured check runs and `HEALTH_CRITICAL` decides the overall
    status; a caller that names checks asks about those, so each of them counts as critical.
    """
    probe = _Probe(checks, fresh, timeout)
    probe.wait()
    return probe.report(checks)


async def arun(checks: Sequence[Check] | None = None, *, fresh: bool = False) -> Report:
    """Like run(), but awaiting: the event loop keeps serving while checks run in threads."""
    probe = _Probe(checks, fresh, None)
    await probe.await_()
    return probe.report(checks)


def reset(*, shared: bool = True) -> None:
    """Forget every cached result and derived setting (tests; settings changed).

    With `shared`, also the results this configuration left for other processes, so the
    next probe runs every check.
    """
    with _flights_lock:
        _flights.clear()
    if shared and _store.cache_info().currsize and (store := _store()) is not None:
        store.clear()
    _store.cache_clear()
    redact.forget()


@receiver(setting_changed)
def _settings_changed(**kwargs) -> None:
    reset()
