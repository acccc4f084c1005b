"""Template filters of the dashboard: durations and timestamps in an operator's terms."""

from __future__ import annotations

from datetime import UTC, datetime

from django import template

register = template.Library()


@register.filter
def seconds(value) -> str:
    """12.3 -> `12.3 s`, 125 -> `2 min 5 s`, 7300 -> `2 h 1 min`; empty for None."""
    if value is None or value == "":
        return ""
    try:
        total = float(value)
    except (TypeError, ValueError):
        return ""
    if total < 60:
        return f"{total:.1f} s" if total % 1 else f"{int(total)} s"
    whole = int(total)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours >= 48:
        return f"{hours // 24} d {hours % 24} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {secs} s"


@register.filter
def when(value) -> str:
    """An ISO timestamp (or datetime) as `YYYY-MM-DD HH:MM:SS UTC`; empty for None."""
    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
