"""The runner: concurrency, deadlines, single flight, caching, criticality, and no leaks."""

from __future__ import annotations

import asyncio
import threading
import time
from math import ceil

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from health import runner
from health.registry import checks_of, configured_checks, health_check
from health.results import FAIL, PASS, WARN
from tests.health import support
from tests.health.support import calls, returned, use_checks
from tests.support.waiting import wait_until


def _entries(report, key):
    return [result for result in report.results if result.key == key]


def test_checks_run_concurrently(settings):
    # Each waits for the other at a barrier: run one after the other, the first one fails.
    use_checks(settings, "meet_a", "meet_b", critical=("meet_a", "meet_b"))
    report = runner.run()
    assert report.status == PASS, report.results


def test_a_check_past_its_deadline_fails_and_is_not_started_again(settings):
    use_checks(settings, "hanging", "slow", critical=("hanging",))
    settings.HEALTH_CACHE_SECONDS = 0
    started = time.monotonic()
    report = runner.run()
    elapsed = time.monotonic() - started
    assert report.status == FAIL
    [hung] = _entries(report, "hanging:wait")
    assert hung.status == FAIL and hung.output == "timed out after 1 s"
    assert elapsed >= 1, f"the probe answered after {elapsed:.2f} s, before the 1 s deadline"
    assert returned["hanging"] == 0, "the probe waited for the hung check instead of its deadline"
    assert _entries(report, "slow:sleep")[0].status == PASS

    # Still hung: later probes report it and do not start a second run.
    for _ in range(3):
        again = runner.run(checks_of("hanging"), fresh=True)
        assert _entries(again, "hanging:wait")[0].output == "timed out after 1 s"
    assert calls["hanging"] == 1 and returned["hanging"] == 0

    support.release.set()
    wait_until(lambda: returned["hanging"] == 1, 10, "the hung run to end once released")
    support.release.clear()
    runner.run(checks_of("hanging"), fresh=True)
    assert calls["hanging"] == 2, "once the hung run ended, the next probe runs the check again"


def test_a_check_that_raises_is_a_fail_without_traceback_or_secrets(settings):
    use_checks(settings, "raising", "broken")
    report = runner.run()
    [raised] = _entries(report, "raising")
    assert raised.status == FAIL
    assert raised.output.startswith("RuntimeError: boom with ")
    assert django_settings.SECRET_KEY not in raised.output
    assert "hunter22" not in raised.output and "***" in raised.output
    assert "Traceback" not in raised.output
    [bad] = _entries(report, "broken")
    assert bad.status == FAIL and bad.output == "the check returned no Result"


def test_results_are_cached_and_fresh_runs_again(settings):
    use_checks(settings, "slow")
    support.delays["slow"] = 0.01
    # Long enough that no load on the machine lets the cache expire between two probes.
    settings.HEALTH_CACHE_SECONDS = 60
    first = runner.run()
    second = runner.run()
    assert calls["slow"] == 1 and second.results == first.results

    runner.run(fresh=True)
    assert calls["slow"] == 2
    settings.HEALTH_CACHE_SECONDS = 0.5
    runner.run(fresh=True)  # cached for 0.5 s from its end
    assert calls["slow"] == 3
    wait_until(lambda: runner.run() and calls["slow"] == 4, 10, "the next probe after 0.5 s to run again")


def test_max_age_tells_how_long_the_answer_stays_true(settings):
    use_checks(settings, "slow")
    support.delays["slow"] = 0.01
    settings.HEALTH_CACHE_SECONDS = 5
    started = time.monotonic()
    max_age = runner.run().max_age
    took = time.monotonic() - started
    # 5 s less the time since the run ended, rounded down: 4 unless the machine stalled the probe.
    assert 5 - ceil(took) <= max_age <= 4, f"max_age {max_age} after a probe of {took:.2f} s"
    settings.HEALTH_CACHE_SECONDS = 0.5
    assert runner.run(fresh=True).max_age == 0  # floor of < 0.5 s left


def test_single_flight_across_threads(settings):
    use_checks(settings, "slow", "slow_b")
    barrier = threading.Barrier(50)
    reports = []

    def probe():
        barrier.wait()
        reports.append(runner.run())

    threads = [threading.Thread(target=probe) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(reports) == 50 and all(report.status == PASS for report in reports)
    assert calls == {"slow": 1, "slow_b": 1}


def test_single_flight_across_async_tasks(settings):
    use_checks(settings, "slow", "slow_b")

    async def storm():
        return await asyncio.gather(*(runner.arun(fresh=True) for _ in range(50)))

    reports = asyncio.run(storm())
    assert {report.status for report in reports} == {PASS}
    assert calls == {"slow": 1, "slow_b": 1}


def test_async_probe_answers_at_the_deadline_while_the_check_hangs(settings):
    use_checks(settings, "hanging", critical=("hanging",))

    async def probe_and_tick():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        report = await runner.arun()
        task.cancel()
        return report, ticks

    report, ticks = asyncio.run(probe_and_tick())
    assert report.status == FAIL and returned["hanging"] == 0, "the answer waited for the hung check"
    # Up to 100 ticks in the 1 s deadline; a blocked loop gets none (a loaded machine, fewer).
    assert ticks >= 10, "the event loop was blocked while the check hung"


def test_only_critical_components_fail_the_aggregate(settings):
    use_checks(settings, "slow", "optional", "warning", critical=("slow",))
    support.delays["slow"] = 0.01
    report = runner.run()
    assert report.status == WARN
    assert _entries(report, "optional")[0].status == FAIL  # its own entry still says fail

    settings.HEALTH_CRITICAL = ["slow", "optional"]
    assert runner.run().status == FAIL

    settings.HEALTH_CRITICAL = []
    # Asking about one component: its failure is the answer, critical or not.
    assert runner.run(checks_of("optional")).status == FAIL
    assert runner.run(checks_of("warning")).status == WARN


def test_a_timeout_override_applies_to_every_check(settings):
    use_checks(settings, "hanging", critical=("hanging",))  # it declares 1 s
    report = runner.run(timeout=0.2)
    assert report.results[0].output == "timed out after 0.2 s"
    assert returned["hanging"] == 0, "the answer waited for the hung check"


def test_results_are_shared_by_processes_through_the_state_folder(settings):
    use_checks(settings, "slow")
    support.delays["slow"] = 0.01
    runner.run()
    assert calls["slow"] == 1
    runner.reset(shared=False)  # a new process: nothing in memory, the same state folder
    runner.run()
    assert calls["slow"] == 1, "a fresh result in the state folder is reused"
    runner.reset(shared=False)
    runner.run(fresh=True)
    assert calls["slow"] == 2
    runner.reset()  # as when settings change: the shared results go too
    runner.run()
    assert calls["slow"] == 3


def test_a_process_waits_for_the_run_another_process_holds(settings):
    from health.runner import _store

    use_checks(settings, "slow")
    support.delays["slow"] = 0.01
    [check] = configured_checks()
    store = _store()
    lock = store.try_lock(check.path)  # "another process" is running the check
    assert lock is not None

    def other_process_finishes():
        time.sleep(0.2)
        store.write(check.path, (support.Result("slow", output="from the other process"),))
        store.unlock(lock)

    threading.Thread(target=other_process_finishes).start()
    report = runner.run(fresh=True)
    assert calls["slow"] == 0
    assert report.results[0].output == "from the other process"


def test_a_process_gives_up_on_another_process_hung_run_at_the_deadline(settings):
    from health.runner import _store

    use_checks(settings, "hanging")
    [check] = configured_checks()
    lock = _store().try_lock(check.path)
    try:
        report = runner.run(fresh=True)  # the lock is held until `finally`: waiting on, it would hang
        assert report.results[0].output == "timed out after 1 s"
        assert calls["hanging"] == 0
    finally:
        _store().unlock(lock)


def test_registry_rejects_bad_names_and_undecorated_paths(settings):
    import pytest

    with pytest.raises(ValueError):
        health_check("no spaces")
    with pytest.raises(ValueError):
        health_check("fine", timeout=0)
    settings.HEALTH_CHECKS = ["tests.health.support.reset_checks"]
    with pytest.raises(ImproperlyConfigured, match="not decorated"):
        configured_checks()
    settings.HEALTH_CHECKS = ["tests.health.support.nothing_here"]
    with pytest.raises(ImproperlyConfigured, match="does not import"):
        configured_checks()
