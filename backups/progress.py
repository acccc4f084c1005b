"""Progress reporting for long streams: a bar (bytes, rate) on a TTY, nothing otherwise."""

from __future__ import annotations

import time


def human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return f"{size:.1f} GiB"


class Progress:
    """Counts bytes of one stage; draws at most 5 times a second when `stream` is a TTY (None: never)."""

    def __init__(self, label: str, total: int | None = None, stream=None):
        self.label = label
        self.total = total
        self.stream = stream
        self.enabled = bool(getattr(stream, "isatty", lambda: False)())
        self.done = 0
        self.started = time.monotonic()
        self._drawn = 0.0

    def update(self, count: int) -> None:
        self.done += count
        if self.enabled and time.monotonic() - self._drawn >= 0.2:
            self._draw()

    def _draw(self, end: str = "") -> None:
        self._drawn = time.monotonic()
        elapsed = max(self._drawn - self.started, 1e-6)
        rate = human(self.done / elapsed) + "/s"
        if self.total:
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(share * 30)
            line = f"\r{self.label} [{bar:<30}] {human(self.done)} / {human(self.total)} {rate}  "
        else:
            line = f"\r{self.label} {human(self.done)} {rate}  "
        self.stream.write(line + end)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw(end="\n")
