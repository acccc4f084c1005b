"""The runner: concurrency, deadlines, single flight, caching, criticality, and no leaks."""

from __future__ import annotations

import asyncio
import threading
import time

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from health import runner
from health.registry import checks_of, configured_checks, health_check
from health.results import FAIL, PASS, WARN
from tests.health import support
from tests.health.support import calls, use_checks


def _entries(report, key):
    return [result for result in report.results if result.key == key]


def test_checks_run_concurrently(settings):
    use_checks(settings, "slow", "slow_b", critical=("slow", "slow_b"))
    started = time.monotonic()
    report = runner.run()
    elapsed = time.monotonic() - started
    assert report.status == PASS
    assert elapsed < 0.7, f"two 0.4 s checks took {elapsed:.2f} s: not concurrent"


def test_a_check_past_its_deadline_fails_and_is_not_started_again(settings):
    use_checks(settings, "hanging", "slow", critical=("hanging",))
    settings.HEALTH_CACHE_SECONDS = 0
    started = time.monotonic()
    report = runner.run()
    elapsed = time.monotonic() - started
    assert report.status == FAIL
    [hung] = _entries(report, "hanging:wait")
    assert hung.status == FAIL and hung.output == "timed out after 1 s"
    assert 1 <= elapsed < 1 + 0.5, f"the probe waited {elapsed:.2f} s for a 1 s deadline"
    assert _entries(report, "slow:sleep")[0].status == PASS

    # Still hung: later probes report it at once and do not start a second run.
    for _ in range(3):
        started = time.monotonic()
        again = runner.run(checks_of("hanging"), fresh=True)
        assert time.monotonic() - started < 0.5, "waited again for a run already past its deadline"
        assert _entries(again, "hanging:wait")[0].output == "timed out after 1 s"
    assert calls["hanging"] == 1

    support.release.set()
    time.sleep(0.1)
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
    settings.HEALTH_CACHE_SECONDS = 0.5
    first = runner.run()
    second = runner.run()
    assert calls["slow"] == 1 and second.results == first.results
    assert first.max_age == 0 and runner.run().max_age == 0  # floor of < 0.5 s left

    runner.run(fresh=True)
    assert calls["slow"] == 2
    time.sleep(0.55)
    runner.run()
    assert calls["slow"] == 3


def test_max_age_tells_how_long_the_answer_stays_true(settings):
    use_checks(settings, "slow")
    support.delays["slow"] = 0.01
    settings.HEALTH_CACHE_SECONDS = 5
    assert runner.run().max_age == 4  # 5 s less the time the run took, rounded down


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

    started = time.monotonic()
    reports = asyncio.run(storm())
    assert time.monotonic() - started < 1.5
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

    started = time.monotonic()
    report, ticks = asyncio.run(probe_and_tick())
    assert time.monotonic() - started < 1.5
    assert report.status == FAIL
    assert ticks >= 40, "the event loop was blocked while the check hung"


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
    use_checks(settings, "slow", critical=("slow",))
    support.delays["slow"] = 1.0
    started = time.monotonic()
    report = runner.run(timeout=0.2)
    assert time.monotonic() - started < 0.7
    assert report.results[0].output == "timed out after 0.2 s"


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
        started = time.monotonic()
        report = runner.run(fresh=True)
        assert time.monotonic() - started < 1.5
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
