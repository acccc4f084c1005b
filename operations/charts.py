"""Inline SVG charts of the queue history, drawn on the server: no chart library in the page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

WIDTH, HEIGHT, PAD = 600, 110, 4


@dataclass
class Chart:
    queue: str
    size_points: str
    wait_points: str
    max_size: int
    max_wait: float
    samples: int
    width: int = WIDTH
    height: int = HEIGHT


def _points(values: list[tuple[float, float]], top: float) -> str:
    scale = (HEIGHT - 2 * PAD) / top if top > 0 else 0
    return " ".join(f"{x:.1f},{HEIGHT - PAD - value * scale:.1f}" for x, value in values)


def queue_charts(series: dict[str, list[dict]], now: datetime, span: timedelta) -> list[Chart]:
    """One chart per queue: size and oldest wait over `span` up to `now`, each on its own scale."""
    start = now - span
    seconds = span.total_seconds()
    charts = []
    for queue, rows in sorted(series.items()):
        sizes, waits = [], []
        for row in rows:
            at = datetime.fromisoformat(row["at"])
            x = PAD + (WIDTH - 2 * PAD) * max(0.0, (at - start).total_seconds()) / seconds
            sizes.append((x, float(row["size"])))
            waits.append((x, float(row["wait"] or 0)))
        max_size = max((v for _, v in sizes), default=0)
        max_wait = max((v for _, v in waits), default=0)
        charts.append(
            Chart(
                queue=queue,
                size_points=_points(sizes, max_size),
                wait_points=_points(waits, max_wait),
                max_size=int(max_size),
                max_wait=round(max_wait, 1),
                samples=len(rows),
            )
        )
    return charts
