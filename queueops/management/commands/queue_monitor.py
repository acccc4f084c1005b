"""`manage.py queue_monitor [QUEUE:MAX ...]`: size, oldest wait and live consumers per queue."""

from __future__ import annotations

import json
import time

from queueops import broker, heartbeat
from queueops.management.base import QueueCommand, table


def _limit(spec: str) -> tuple[str, int, float | None]:
    name, _, rest = spec.partition(":")
    size, _, age = rest.partition(":")
    try:
        limit = (name, int(size), float(age) if age else None)
    except ValueError:
        limit = None
    if not name or limit is None or limit[1] < 0 or (limit[2] is not None and limit[2] < 0):
        raise ValueError(spec)
    return limit


class Command(QueueCommand):
    help = (
        "Print each queue's waiting messages, the wait of the oldest one and its live consumers "
        "(workers with a fresh heartbeat). QUEUE:MAX sets a maximum size, QUEUE:MAX:SECONDS a "
        "maximum oldest wait too; exit 1 when one is exceeded or the broker does not answer."
    )

    def add_arguments(self, parser):
        parser.add_argument("limits", nargs="*", metavar="QUEUE:MAX[:SECONDS]")
        parser.add_argument("--json", action="store_true", help="one JSON object")

    def handle(self, *args, limits, json: bool = False, **options):
        try:
            parsed = {name: (size, age) for name, size, age in map(_limit, limits)}
        except ValueError as exc:
            raise self.usage_error(
                f"{exc} is not QUEUE:MAX or QUEUE:MAX:SECONDS (whole MAX, both >= 0)"
            ) from None
        try:
            beats = heartbeat.workers()
        except Exception as exc:
            self.stderr.write(f"worker heartbeats unreadable ({type(exc).__name__}); consumers shown as 0")
            beats = []
        try:
            stats = broker.queue_stats(broker.known_queues(extra=list(parsed), beats=beats))
        except broker.BrokerUnavailable as exc:
            self.stderr.write(str(exc))
            raise SystemExit(1) from None
        consumers = heartbeat.consumers_by_queue(beats)
        now = time.time()
        report, exceeded = [], False
        for stat in stats:
            age = stat.oldest_age(now)
            max_size, max_age = parsed.get(stat.name, (None, None))
            over = (max_size is not None and stat.size > max_size) or (
                max_age is not None and age is not None and age > max_age
            )
            exceeded |= over
            report.append(
                {
                    "queue": stat.name,
                    "size": stat.size,
                    "oldest_wait": None if age is None else round(age, 3),
                    "consumers": consumers.get(stat.name, 0),
                    "max_size": max_size,
                    "max_wait": max_age,
                    "exceeded": over,
                }
            )
        if json:
            self.stdout.write(_dumps({"queues": report, "exceeded": exceeded}))
        else:
            rows = [
                [
                    row["queue"],
                    str(row["size"]),
                    "-" if row["oldest_wait"] is None else f"{row['oldest_wait']:.1f} s",
                    str(row["consumers"]),
                    _limit_text(row["max_size"], row["max_wait"]),
                    "EXCEEDED" if row["exceeded"] else "ok",
                ]
                for row in report
            ]
            self.stdout.write(table(rows, ["QUEUE", "SIZE", "OLDEST WAIT", "CONSUMERS", "LIMIT", "STATUS"]))
        if exceeded:
            raise SystemExit(1)


def _limit_text(size, age) -> str:
    if size is None:
        return "-"
    return f"{size}" + (f", {age:g} s" if age is not None else "")


def _dumps(value) -> str:
    return json.dumps(value, indent=2)
