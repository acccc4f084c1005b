"""Queue history: samples from the real broker, folded into peak buckets as they age, then expired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from operations import history
from operations.models import QueueSample
from opsproject.celery import app

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_queues")]

NOW = datetime(2026, 11, 29, 12, 0, 30, tzinfo=UTC)


@pytest.fixture
def history_settings(settings):
    settings.OPS_HISTORY_SAMPLE_SECONDS = 60
    settings.OPS_HISTORY_RAW_SECONDS = 3600
    settings.OPS_HISTORY_BUCKET_SECONDS = 600
    settings.OPS_HISTORY_RETENTION = 24 * 3600
    settings.QUEUE_ALERTS = {"ops_a": (10, 60)}  # makes ops_a a known queue
    return settings


def test_a_sample_reads_each_known_queue_from_the_broker(history_settings):
    for n in range(3):
        app.send_task("tests.operations.succeed", args=[f"/tmp/never-{n}"], queue="ops_a")
    rows = {row.queue: row for row in history.sample()}
    assert rows["ops_a"].size == 3
    assert rows["ops_a"].oldest_wait is not None and 0 <= rows["ops_a"].oldest_wait < 30
    assert rows["ops_a"].resolution == 60
    assert rows["celery"].size == 0 and rows["celery"].oldest_wait is None
    # A second sample in the same minute replaces the first rather than adding a row.
    app.send_task("tests.operations.succeed", args=["/tmp/never"], queue="ops_a")
    history.sample()
    assert QueueSample.objects.filter(queue="ops_a").get().size == 4


@pytest.mark.parametrize("batch", [1000, 2])  # 2: a bucket's samples are folded across batches
def test_old_samples_fold_into_peak_buckets_and_expire(history_settings, monkeypatch, batch):
    monkeypatch.setattr(history, "FOLD_BATCH", batch)

    def fine(minutes_ago: int, size: int, wait: float | None):
        QueueSample.objects.create(
            queue="ops_a", at=NOW - timedelta(minutes=minutes_ago), resolution=60, size=size, oldest_wait=wait
        )

    # About two hours ago, all inside the 10-minute bucket 09:50-10:00.
    for minutes_ago, size, wait in ((125, 5, 10.0), (124, 40, 90.0), (123, 7, None)):
        fine(minutes_ago, size, wait)
    fine(5, 3, 1.0)  # recent: stays at full resolution
    QueueSample.objects.create(queue="ops_a", at=NOW - timedelta(hours=25), resolution=600, size=9)

    counts = history.compact(NOW)

    assert counts == {"folded": 3, "dropped": 1}
    buckets = list(QueueSample.objects.filter(resolution=600))
    assert [(b.size, b.oldest_wait, b.samples) for b in buckets] == [(40, 90.0, 3)]
    assert buckets[0].at == datetime(2026, 11, 29, 9, 50, tzinfo=UTC)
    assert QueueSample.objects.filter(resolution=60).count() == 1
    # Folding again later merges into the same bucket instead of duplicating it.
    fine(126, 50, 5.0)
    history.compact(NOW)
    bucket = QueueSample.objects.get(resolution=600)
    assert (bucket.size, bucket.oldest_wait, bucket.samples) == (50, 90.0, 4)
    series = history.series(now=NOW)
    assert [point["size"] for point in series["ops_a"]] == [50, 3]
