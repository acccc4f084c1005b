"""Beat coordination: the leader lock, per-slot send claims and the beats' heartbeat board.

With Redis (`REDIS_URL`) every beat on every host shares one lock, atomically renewed by a
Lua compare-and-expire, so a standby can take over only when the leader stops renewing. In the
embedded profile (one machine, usually one beat) the Django cache stands in: `cache.add` is a
set-if-absent there too. The heartbeat board lives in the shared key-value store, beside the workers'.
"""

from __future__ import annotations

import json
import logging
import socket
from datetime import UTC, datetime, timedelta

import redis
from django.conf import settings
from django.core.cache import cache

from keyvalue import BOARD_FORGET_AFTER, store

log = logging.getLogger(__name__)

LEADER_KEY = "ops:beat:leader"
MEMBERS_KEY = "ops:beat:members"
CLAIM_PREFIX = "ops:beat:slot:"
# Members that have not beaten for this long are dropped from the board, as workers are.
FORGET_AFTER = timedelta(seconds=BOARD_FORGET_AFTER)

_ACQUIRE_OR_RENEW = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def beat_name() -> str:
    """This beat's identity on the board: BEAT_NAME, else the host (a container's name)."""
    return settings.BEAT_NAME or socket.gethostname()


class _Board:
    """The beats' heartbeat board, kept in queue operations' shared store like the workers'."""

    def publish(self, identity: str, state: dict) -> None:
        store().board_put(MEMBERS_KEY, identity, json.dumps(state))

    def members(self) -> dict[str, dict]:
        raw = store().board(MEMBERS_KEY)
        return _fresh_members(raw, forget=lambda name: store().board_remove(MEMBERS_KEY, name))


class RedisCoordinator(_Board):
    """Lock and claims in Redis: shared by every beat that uses the same REDIS_URL."""

    def __init__(self, client: redis.Redis | None = None):
        self.client = client or store().client
        self._acquire = self.client.register_script(_ACQUIRE_OR_RENEW)
        self._release = self.client.register_script(_RELEASE)

    def hold(self, identity: str, ttl: float) -> bool:
        """Take the lock if free or renew it if ours; False when another beat holds it."""
        return bool(self._acquire(keys=[LEADER_KEY], args=[identity, int(ttl * 1000)]))

    def release(self, identity: str) -> bool:
        return bool(self._release(keys=[LEADER_KEY], args=[identity]))

    def leader(self) -> str | None:
        return self.client.get(LEADER_KEY)

    def claim(self, slot: str, ttl: float) -> bool:
        return bool(self.client.set(CLAIM_PREFIX + slot, beat_name(), nx=True, ex=max(1, int(ttl))))


class CacheCoordinator(_Board):
    """The same contract on the Django cache, for the embedded profile's single machine."""

    def hold(self, identity: str, ttl: float) -> bool:
        if cache.add(LEADER_KEY, identity, ttl):
            return True
        if cache.get(LEADER_KEY) == identity:
            cache.set(LEADER_KEY, identity, ttl)
            return True
        return False

    def release(self, identity: str) -> bool:
        if cache.get(LEADER_KEY) == identity:
            cache.delete(LEADER_KEY)
            return True
        return False

    def leader(self) -> str | None:
        return cache.get(LEADER_KEY)

    def claim(self, slot: str, ttl: float) -> bool:
        return cache.add(CLAIM_PREFIX + slot, beat_name(), max(1, int(ttl)))


def _fresh_members(raw: dict[str, str], forget) -> dict[str, dict]:
    now = datetime.now(UTC)
    members = {}
    for name, payload in raw.items():
        try:
            state = json.loads(payload)
            seen = datetime.fromisoformat(state["at"])
        except (ValueError, KeyError, TypeError):
            forget(name)
            continue
        if now - seen > FORGET_AFTER:
            forget(name)
            continue
        state["age"] = (now - seen).total_seconds()
        members[name] = state
    return members


def coordinator() -> RedisCoordinator | CacheCoordinator:
    return RedisCoordinator() if settings.REDIS_URL else CacheCoordinator()


def heartbeat_state(role: str, **extra) -> dict:
    return {"role": role, "at": datetime.now(UTC).isoformat(), **extra}


def is_fresh(state: dict, max_age: float | None = None) -> bool:
    """A running beat (leader or standby) whose last heartbeat is recent enough."""
    limit = settings.BEAT_HEARTBEAT_MAX_AGE if max_age is None else max_age
    return state.get("role") in ("leader", "standby") and state["age"] <= limit
