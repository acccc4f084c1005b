"""The queue history: per-minute samples of each queue's size and oldest wait, folded as they age.

`sample()` (job `operations.sample_queues`) stores a row per queue; `compact()` folds rows older
than OPS_HISTORY_RAW_SECONDS into OPS_HISTORY_BUCKET_SECONDS buckets of the peaks (what an operator
looks for) and deletes what is older than OPS_HISTORY_RETENTION. In the database: survives restarts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from operations.models import QueueSample

FOLD_BATCH = 1000  # fine samples folded per transaction


def _floor(moment: datetime, seconds: int) -> datetime:
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def sample(now: datetime | None = None) -> list[QueueSample]:
    """Store the current size and oldest wait of every known queue; then compact."""
    from queueops.broker import known_queues, queue_stats
    from queueops.heartbeat import workers

    now = now or timezone.now()
    resolution = settings.OPS_HISTORY_SAMPLE_SECONDS
    at = _floor(now, resolution)
    stats = queue_stats(known_queues(beats=workers()))
    rows = []
    for queue in stats:
        wait = queue.oldest_age(now.timestamp())
        row, _ = QueueSample.objects.update_or_create(
            queue=queue.name,
            resolution=resolution,
            at=at,
            defaults={"size": queue.size, "oldest_wait": None if wait is None else round(wait, 3)},
        )
        rows.append(row)
    compact(now)
    return rows


def compact(now: datetime | None = None) -> dict[str, int]:
    """Fold aged fine samples into buckets and drop rows past retention; returns the counts.

    FOLD_BATCH samples a transaction (a few queries each), so rows stay locked for moments, not
    for the whole fold: after an outage of the sampler a day may be waiting to be folded."""
    now = now or timezone.now()
    bucket = settings.OPS_HISTORY_BUCKET_SECONDS
    fine_before = now - timedelta(seconds=settings.OPS_HISTORY_RAW_SECONDS)
    dropped, _ = QueueSample.objects.filter(
        at__lt=now - timedelta(seconds=settings.OPS_HISTORY_RETENTION)
    ).delete()
    folded = 0
    while True:
        with transaction.atomic():
            aged = list(
                QueueSample.objects.select_for_update()
                .filter(at__lt=fine_before, resolution__lt=bucket)
                .order_by("at", "queue")[:FOLD_BATCH]
            )
            if not aged:
                return {"folded": folded, "dropped": dropped}
            keys = {(row.queue, _floor(row.at, bucket)) for row in aged}
            targets = QueueSample.objects.select_for_update().filter(
                resolution=bucket, queue__in={queue for queue, _ in keys}, at__in={at for _, at in keys}
            )
            merged = {(t.queue, t.at): t for t in targets if (t.queue, t.at) in keys}
            for row in aged:
                key = (row.queue, _floor(row.at, bucket))
                target = merged.setdefault(
                    key, QueueSample(queue=key[0], resolution=bucket, at=key[1], size=0, samples=0)
                )
                target.size = max(target.size, row.size)
                if row.oldest_wait is not None:
                    target.oldest_wait = max(target.oldest_wait or 0.0, row.oldest_wait)
                target.samples += row.samples
            QueueSample.objects.filter(pk__in=[row.pk for row in aged]).delete()
            fields = ["size", "oldest_wait", "samples"]
            QueueSample.objects.bulk_update([t for t in merged.values() if t.pk], fields)
            QueueSample.objects.bulk_create([t for t in merged.values() if not t.pk])
            folded += len(aged)


def series(hours: float | None = None, now: datetime | None = None) -> dict[str, list[dict]]:
    """{queue: [{at, size, wait}, ...]} over the last `hours` (default: the retention), by time."""
    now = now or timezone.now()
    span = timedelta(hours=hours) if hours else timedelta(seconds=settings.OPS_HISTORY_RETENTION)
    result: dict[str, list[dict]] = {}
    rows = QueueSample.objects.filter(at__gte=now - span).order_by("queue", "at", "resolution")
    for row in rows.values_list("queue", "at", "size", "oldest_wait"):
        queue, at, size, wait = row
        result.setdefault(queue, []).append(
            {"at": at.astimezone(UTC).isoformat(), "size": size, "wait": wait}
        )
    return result
