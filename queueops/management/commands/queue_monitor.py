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

    def handle(self, *args, limits, **options):
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
        report, rows = [], []
        for stat in stats:
            age = stat.oldest_age(now)
            max_size, max_age = parsed.get(stat.name, (None, None))
            over = (max_size is not None and stat.size > max_size) or (
                max_age is not None and age is not None and age > max_age
            )
            wait, consumed = None if age is None else round(age, 3), consumers.get(stat.name, 0)
            report.append(dict(queue=stat.name, size=stat.size, oldest_wait=wait, consumers=consumed))
            report[-1].update(max_size=max_size, max_wait=max_age, exceeded=over)
            limit = (
                "-"
                if max_size is None
                else f"{max_size}" + (f", {max_age:g} s" if max_age is not None else "")
            )
            shown_wait = "-" if wait is None else f"{wait:.1f} s"
            rows.append(
                [stat.name, str(stat.size), shown_wait, str(consumed), limit, "EXCEEDED" if over else "ok"]
            )
        exceeded = any(row["exceeded"] for row in report)
        if options["json"]:
            self.stdout.write(json.dumps({"queues": report, "exceeded": exceeded}, indent=2))
        else:
            self.stdout.write(table(rows, ["QUEUE", "SIZE", "OLDEST WAIT", "CONSUMERS", "LIMIT", "STATUS"]))
        if exceeded:
            raise SystemExit(1)
