"""Beat coordination: the leader lock, per-slot send claims and the beats' heartbeat board.

All three live in the shared key-value store (`keyvalue`): with Redis every beat on every host
shares one lock, a lease atomically renewed by its holder only, so a standby can take over only
when the leader stops renewing; in the embedded profile (one machine, usually one beat) the
Django cache stands in. The heartbeat board sits beside the workers'.
"""

from __future__ import annotations

import json
import logging
import socket
from datetime import UTC, datetime, timedelta

from django.conf import settings

from keyvalue import BOARD_FORGET_AFTER, store

log = logging.getLogger(__name__)

LEADER_KEY = "ops:beat:leader"
MEMBERS_KEY = "ops:beat:members"
CLAIM_PREFIX = "ops:beat:slot:"
# Members that have not beaten for this long are dropped from the board, as workers are.
FORGET_AFTER = timedelta(seconds=BOARD_FORGET_AFTER)


def beat_name() -> str:
    """This beat's identity on the board: BEAT_NAME, else the host (a container's name)."""
    return settings.BEAT_NAME or socket.gethostname()


class Coordinator:
    """The lock, the claims and the board, on the store of this profile."""

    def hold(self, identity: str, ttl: float) -> bool:
        """Take the lock if free or renew it if ours; False when another beat holds it."""
        return store().lease(LEADER_KEY, identity, ttl)

    def release(self, identity: str) -> bool:
        return store().release(LEADER_KEY, identity)

    def leader(self) -> str | None:
        return store().get(LEADER_KEY)

    def claim(self, slot: str, ttl: float) -> bool:
        """Claim a send slot; False when another beat claimed it first."""
        return store().add(CLAIM_PREFIX + slot, beat_name(), ttl)

    def publish(self, identity: str, state: dict) -> None:
        store().board_put(MEMBERS_KEY, identity, json.dumps(state))

    def members(self) -> dict[str, dict]:
        """The fresh entries of the board, each with its `age` in seconds; the rest are dropped."""
        now, members = datetime.now(UTC), {}
        for name, payload in store().board(MEMBERS_KEY).items():
            try:
                state = json.loads(payload)
                state["age"] = (now - datetime.fromisoformat(state["at"])).total_seconds()
            except (ValueError, KeyError, TypeError):
                state = None
            if state is None or state["age"] > FORGET_AFTER.total_seconds():
                store().board_remove(MEMBERS_KEY, name)
            else:
                members[name] = state
        return members


def coordinator() -> Coordinator:
    return Coordinator()


def heartbeat_state(role: str, **extra) -> dict:
    return {"role": role, "at": datetime.now(UTC).isoformat(), **extra}


def is_fresh(state: dict, max_age: float | None = None) -> bool:
    """A running beat (leader or standby) whose last heartbeat is recent enough."""
    limit = settings.BEAT_HEARTBEAT_MAX_AGE if max_age is None else max_age
    return state.get("role") in ("leader", "standby") and state["age"] <= limit
