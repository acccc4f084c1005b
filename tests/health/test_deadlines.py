"""HEALTH_TIMEOUT bounds every probe: a check that declares a longer deadline is reported
timed out at HEALTH_TIMEOUT, and the answer does not wait for it."""

from __future__ import annotations

import asyncio
import importlib
import threading

import pytest

from health import runner
from health.registry import configured_checks, health_check
from health.results import FAIL, PASS, Result
from tests.health.support import use_checks

entered = threading.Event()
release = threading.Event()
returned = threading.Event()


@health_check("greedy", timeout=30, measurement="wait")
def greedy() -> Result:
    """A check that asks for 30 s and hangs until the test lets it go."""
    entered.set()
    try:
        release.wait(60)
    finally:
        returned.set()
    return Result("greedy", measurement="wait")


@health_check("quick")
def quick() -> Result:
    return Result("quick")


@pytest.fixture(autouse=True)
def greedy_events():
    for event in (entered, release, returned):
        event.clear()
    yield
    release.set()  # lets a hung run end before the next test
    returned.wait(5)


def _use(settings):
    settings.HEALTH_CHECKS = [f"{__name__}.greedy", f"{__name__}.quick"]
    settings.HEALTH_CRITICAL = ["greedy", "quick"]
    settings.HEALTH_TIMEOUT = 0.3
    settings.HEALTH_CACHE_SECONDS = 0


def _assert_answered_without_waiting(report) -> None:
    assert entered.is_set(), "the greedy check never started"
    assert not returned.is_set(), "the answer waited for the check to return"
    by_key = {result.key: result for result in report.results}
    assert by_key["greedy:wait"].status == FAIL
    assert by_key["greedy:wait"].output == "timed out after 0.3 s"
    assert by_key["quick"].status == PASS
    assert report.status == FAIL


def test_a_check_asking_for_more_than_health_timeout_is_cut_at_health_timeout(settings):
    _use(settings)
    report = runner.run()
    _assert_answered_without_waiting(report)


def test_the_async_probe_is_cut_at_health_timeout_too(settings):
    _use(settings)
    report = asyncio.run(runner.arun(fresh=True))
    _assert_answered_without_waiting(report)


def test_a_check_may_ask_for_less_than_health_timeout(settings):
    use_checks(settings, "hanging")  # declares timeout=1
    settings.HEALTH_TIMEOUT = 5
    [hanging] = configured_checks()
    assert runner.deadline(hanging) == 1
    settings.HEALTH_TIMEOUT = 0.5
    assert runner.deadline(hanging) == 0.5
    assert runner.deadline(hanging, override=7) == 7  # an explicit caller's choice wins


def test_no_check_of_the_default_list_outlives_health_timeout(settings):
    """The list production runs: none of its checks declares a deadline past HEALTH_TIMEOUT's
    default, so `/health` with a black-holed Redis or database answers at HEALTH_TIMEOUT."""
    defaults = importlib.import_module("opsproject.settings")
    settings.HEALTH_CHECKS = defaults.HEALTH_CHECKS
    checks = configured_checks()
    assert checks
    late = [check.path for check in checks if check.timeout and check.timeout > defaults.HEALTH_TIMEOUT]
    assert not late, f"checks declaring deadlines beyond HEALTH_TIMEOUT: {late}"
    settings.HEALTH_TIMEOUT = defaults.HEALTH_TIMEOUT
    assert max(runner.deadline(check) for check in checks) <= defaults.HEALTH_TIMEOUT
