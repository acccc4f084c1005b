"""Slot keys: the same run gets the same key on every beat; daylight-saving changes run once."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from celery import schedules
from django_celery_beat.models import CrontabSchedule

from opsproject.celery import app
from scheduler.beat import slot_of
from scheduler.periodic import Cron, PeriodicJob, cron, every, next_fire

BERLIN = ZoneInfo("Europe/Berlin")


def _entry(schedule, last_run_at):
    return SimpleNamespace(name="job", schedule=schedule, last_run_at=last_run_at)


def test_interval_slots_are_aligned_to_the_epoch_not_to_each_beats_last_send():
    every_5 = schedules.schedule(timedelta(seconds=5), app=app)
    a, _ = slot_of(_entry(every_5, datetime(2026, 1, 1, tzinfo=UTC)), now=1_000_001.2)
    b, _ = slot_of(_entry(every_5, datetime(2025, 6, 1, tzinfo=UTC)), now=1_000_004.9)
    c, _ = slot_of(_entry(every_5, datetime(2026, 1, 1, tzinfo=UTC)), now=1_000_005.0)
    assert a == b == "job:i5-200000"
    assert c == "job:i5-200001"


def test_crontab_slot_is_the_due_time_whatever_the_beats_last_run():
    hourly = schedules.crontab(minute="15", app=app)
    one_beat = datetime(2026, 3, 1, 10, 15, 0, 500, tzinfo=UTC)
    other_beat = datetime(2026, 3, 1, 10, 40, tzinfo=UTC)
    assert (
        slot_of(_entry(hourly, one_beat))[0]
        == slot_of(_entry(hourly, other_beat))[0]
        == "job:20260301T111500Z"
    )


def test_claims_outlive_the_slot():
    daily = schedules.crontab(minute="0", hour="2", app=app)
    _, ttl = slot_of(_entry(daily, datetime(2026, 3, 1, tzinfo=UTC)))
    assert ttl >= 2 * 24 * 3600
    _, ttl = slot_of(_entry(schedules.schedule(timedelta(seconds=1), app=app), datetime.now(UTC)))
    assert ttl >= 600


def _runs_between(cron_schedule, start, end, step=timedelta(minutes=1)):
    """Drive the schedule like beat does, minute by minute, and collect every slot it sends."""
    clock = {"now": start}
    cron_schedule.nowfun = lambda: clock["now"]
    last_run = start
    sent = []
    while clock["now"] < end:
        due, _ = cron_schedule.is_due(last_run)
        if due:
            sent.append(slot_of(_entry(cron_schedule, last_run))[0])
            last_run = clock["now"]
        clock["now"] += step
    return sent


@pytest.mark.parametrize(
    ("day", "label"),
    [
        (datetime(2026, 10, 24, 12, tzinfo=BERLIN), "autumn (02:00-03:00 happens twice)"),
        (datetime(2026, 3, 28, 12, tzinfo=BERLIN), "spring (02:00-03:00 never happens)"),
    ],
)
def test_a_daily_job_runs_once_a_day_across_a_daylight_saving_change(day, label):
    # The very schedule object beat builds from the row schedule_sync writes.
    nightly = CrontabSchedule(minute="30", hour="2", timezone="Europe/Berlin").schedule
    sent = _runs_between(nightly, day, day + timedelta(days=3))
    assert len(sent) == 3, (label, sent)
    assert len(set(sent)) == 3


def test_cron_declarations_are_checked_when_declared():
    with pytest.raises(ValueError, match="five fields"):
        cron("0 2 * *")
    with pytest.raises(ValueError):
        Cron("99 2 * * *")
    with pytest.raises(ValueError):
        every(0)


def test_period_of_a_daily_and_an_interval_job():
    assert cron("0 2 * * *").period() == timedelta(days=1)
    assert every(60).period() == timedelta(seconds=60)
    job = PeriodicJob("x", task="x", schedule=every(60), grace_seconds=5)
    assert job.grace == timedelta(seconds=5)


def test_next_fire_is_in_the_schedules_zone():
    nightly = CrontabSchedule(minute="30", hour="2", timezone="Europe/Berlin").schedule
    fire = next_fire(nightly, datetime(2026, 1, 10, 12, tzinfo=BERLIN))
    assert fire.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 1, 11, 2, 30)
