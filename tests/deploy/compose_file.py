"""The production compose file, loaded once, with the service rules tests apply to it."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from tests.support.processes import REPO

COMPOSE = REPO / "compose" / "docker-compose.production.yml"
WORKFLOWS = REPO / ".github" / "workflows"
ONE_SHOT = {"migrate", "pitr"}


@cache
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def services() -> dict[str, dict]:
    return compose()["services"]


def env_files(spec: dict, *, required_only: bool = False) -> list[str]:
    """The env files a service lists, in either syntax: `- name.env` or the long
    `- {path: name.env, required: false}` (Compose >= 2.24), where a missing optional file is skipped."""
    names = []
    for entry in spec.get("env_file") or []:
        if isinstance(entry, str):
            names.append(entry)
        elif not required_only or entry.get("required", True):
            names.append(entry["path"])
    return names


def long_running() -> dict[str, dict]:
    return {name: spec for name, spec in services().items() if name not in ONE_SHOT}


def seconds(value: str) -> float:
    """Compose durations as used here: `10s`, `2m`, `300s`."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for suffix in ("ms", "s", "m", "h"):
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * units[suffix]
    raise ValueError(f"not a duration: {value!r}")


def workflow(name: str) -> Path:
    return WORKFLOWS / name
