"""The health check registry: apps declare checks with @health_check, settings pick which run.

Modelled on django.core.checks: a decorator marks a plain function as a check and records its
metadata; `settings.HEALTH_CHECKS` lists the dotted paths of the checks that run, so an app
plugs a check in without touching the framework:

    @health_check("queue", timeout=3)
    def queue_check() -> Result | Iterable[Result]: ...

A check returns one Result or several (one per measurement or per instance). It may raise:
the runner turns any exception into a `fail` result, so a broken check never breaks a probe.
The same happens past the check's deadline (`timeout`, which may shorten HEALTH_TIMEOUT but
never extend it: a probe answers within HEALTH_TIMEOUT whatever its checks declare): the result is
`fail` with `timed out after N s`, keyed `<component>:<measurement>` when `measurement=` is
given. A check about the process itself (`per_process=True`) is run by each process, never
shared between the processes of a host. A check that talks to a server should give its client
that deadline as its own timeout, from `health.runner.current_timeout()`, so a hung server
frees the thread soon.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from health.results import Result

CheckFunction = Callable[[], Result | Iterable[Result]]


@dataclass(frozen=True)
class Check:
    """A registered check: the component it speaks for and how long it may take."""

    component: str
    function: CheckFunction
    timeout: float | None = None  # seconds, capped at settings.HEALTH_TIMEOUT; None: that
    # The measurement the runner puts on a result it makes for the check (timed out, raised),
    # so `database:responseTime` keeps its key when the database hangs.
    measurement: str = ""
    # The check describes this process, not a dependency the host shares: never served from
    # another process's run (health.shared).
    per_process: bool = False

    @property
    def path(self) -> str:
        return f"{self.function.__module__}.{self.function.__qualname__}"


def health_check(
    component: str, *, timeout: float | None = None, measurement: str = "", per_process: bool = False
) -> Callable[[CheckFunction], CheckFunction]:
    """Mark `function` as the health check of `component` (the name in URLs and output)."""
    if not component or not component.replace("_", "").isalnum():
        raise ValueError(f"component names are letters, digits and underscores, not {component!r}")
    if timeout is not None and timeout <= 0:
        raise ValueError(f"a check's timeout is a positive number of seconds, not {timeout!r}")

    def register(function: CheckFunction) -> CheckFunction:
        function.health_check = Check(component, function, timeout, measurement, per_process)
        return function

    return register


def configured_checks() -> list[Check]:
    """The checks named in settings.HEALTH_CHECKS, in that order; a bad path fails loudly."""
    return list(_import_checks(tuple(settings.HEALTH_CHECKS)))


def checks_of(component: str) -> list[Check]:
    """The configured checks that speak for `component`; empty for an unknown one."""
    return [check for check in configured_checks() if check.component == component]


@lru_cache(maxsize=8)
def _import_checks(paths: tuple[str, ...]) -> tuple[Check, ...]:
    # Imported once per distinct list: every probe asks, and import_string is not free.
    checks = []
    for path in paths:
        try:
            function = import_string(path)
        except ImportError as error:
            raise ImproperlyConfigured(f"{path} in HEALTH_CHECKS does not import: {error}") from error
        check = getattr(function, "health_check", None)
        if check is None:
            raise ImproperlyConfigured(f"{path} in HEALTH_CHECKS is not decorated with @health_check")
        checks.append(check)
    return tuple(checks)
