"""The server-drawn SVG chart: points placed by time inside the frame, each line on its own scale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from operations.charts import HEIGHT, PAD, WIDTH, queue_charts

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _points(text: str) -> list[tuple[float, float]]:
    return [tuple(map(float, pair.split(","))) for pair in text.split()]


def test_points_are_placed_by_time_and_scaled_to_the_peak():
    series = {
        "mail": [
            {"at": (NOW - timedelta(hours=24)).isoformat(), "size": 0, "wait": None},
            {"at": (NOW - timedelta(hours=12)).isoformat(), "size": 50, "wait": 30.0},
            {"at": NOW.isoformat(), "size": 100, "wait": 60.0},
        ]
    }
    (chart,) = queue_charts(series, NOW, timedelta(hours=24))
    sizes = _points(chart.size_points)
    assert [x for x, _ in sizes] == [PAD, WIDTH / 2, WIDTH - PAD]
    assert [y for _, y in sizes] == [HEIGHT - PAD, HEIGHT / 2, PAD]  # 0, half, the peak at the top
    assert _points(chart.wait_points)[2][1] == PAD
    assert (chart.max_size, chart.max_wait, chart.samples) == (100, 60.0, 3)


def test_an_idle_queue_draws_a_flat_line_at_the_bottom():
    series = {"idle": [{"at": NOW.isoformat(), "size": 0, "wait": None}]}
    (chart,) = queue_charts(series, NOW, timedelta(hours=24))
    assert _points(chart.size_points) == [(WIDTH - PAD, HEIGHT - PAD)]
