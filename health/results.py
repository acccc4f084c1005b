"""Health check results: plain values a check returns and the runner serialises.

The shape follows the IETF draft `draft-inadarei-api-health-check`: one result is one entry
of `checks["<component>:<measurement>"]`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
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

    def as_json(self, *, details: bool = True) -> dict[str, Any]:
        """This result as one entry of health+json `checks`; without details, its status only.

        observedValue, observedUnit, output, componentId and time are details: they may name
        hosts, aliases or error text, so they are shown to authorised callers only.
        """
        if not details:
            return {"status": self.status}
        entry: dict[str, Any] = {"componentType": self.component_type, "status": self.status}
        if self.component_id:
            entry["componentId"] = self.component_id
        if self.observed_value is not None:
            entry["observedValue"] = self.observed_value
        if self.observed_unit:
            entry["observedUnit"] = self.observed_unit
        entry["time"] = self.time.isoformat().replace("+00:00", "Z")
        if self.output:
            entry["output"] = self.output
        return entry

    def to_record(self) -> dict[str, Any]:
        """Every field as plain JSON, for handing results to another process."""
        return {**asdict(self), "time": self.time.isoformat()}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Result:
        return cls(**{**record, "time": datetime.fromisoformat(record["time"])})
