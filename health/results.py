"""Health check results: plain values a check returns and the runner serialises.

The shape follows the IETF draft `draft-inadarei-api-health-check`: one result is one entry
of `checks["<component>:<measurement>"]`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

PASS = "pass"  # noqa: S105 - a status, not a password
WARN = "warn"
FAIL = "fail"
STATUSES = (PASS, WARN, FAIL)
_RANK = {PASS: 0, WARN: 1, FAIL: 2}


def worst(statuses) -> str:
    """The most severe of some statuses; `pass` for none."""
    return max(statuses, key=_RANK.__getitem__, default=PASS)


@dataclass(frozen=True)
class Result:
    """One observation of one component: `database:responseTime` for alias `default`, say."""

    component: str
    status: str = PASS
    measurement: str = ""
    observed_value: Any = None
    observed_unit: str = ""
    output: str = ""
    component_id: str = ""
    component_type: str = "component"
    time: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")

    @property
    def key(self) -> str:
        return f"{self.component}:{self.measurement}" if self.measurement else self.component
