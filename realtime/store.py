"""Shared realtime state: event ids and history, presence members."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

from django.conf import settings

import keyvalue
from realtime.protocol import fill_event_id

# Presence entries of a process that died without saying goodbye vanish after this many
# layer-check intervals without a refresh.
PRESENCE_STALE_INTERVALS = 6
PREFIX = "realtime:"


@dataclass(frozen=True)
class Member:
    """One presence entry: a user on a channel, as the signed channel_data gave it."""

    user_id: str
    user_info: object = None

    def as_dict(self) -> dict:
        return {"user_id": self.user_id, "user_info": self.user_info}


def _now_ms() -> int:
    return int(time.time() * 1000)


def _stale_after() -> float:
    return max(PRESENCE_STALE_INTERVALS * settings.REALTIME_LAYER_CHECK_INTERVAL, 10.0)


class PresenceResult:
    """What a join or leave changed: members now, and users who arrived or left because of it."""

    def __init__(self, members: dict[str, object], added: Member | None, removed: list[Member]):
        self.members = members  # user_id -> user_info, the channel's members afterwards
        self.added = added
        self.removed = removed


def _presence_view(
    entries: dict[str, dict], now: float, joining: str | None = None
) -> tuple[dict[str, object], list[str], set[str]]:
    """From raw entries: fresh members, stale socket ids, users that had another fresh socket."""
    members: dict[str, object] = {}
    stale: list[str] = []
    others: set[str] = set()
    for socket_id, entry in entries.items():
        if now - entry["seen"] > _stale_after():
            stale.append(socket_id)
            continue
        members[entry["user_id"]] = entry.get("user_info")
        if socket_id != joining:
            others.add(entry["user_id"])
    return members, stale, others


def _departed(entries: dict[str, dict], gone: list[str], members: dict[str, object]) -> list[Member]:
    """Members among the removed sockets `gone` whose user has no fresh socket left."""
    departed: dict[str, Member] = {}
    for socket_id in gone:
        entry = entries.get(socket_id)
        if entry and entry["user_id"] not in members:
            departed[entry["user_id"]] = Member(entry["user_id"], entry.get("user_info"))
    return list(departed.values())


class RedisStore:
    # KEYS: seq, history. ARGV: now ms, oldest id kept, ttl seconds, then the frame's pieces
    # to join with the id.
    RECORD = """
        local last = tonumber(redis.call('GET', KEYS[1]) or '0')
        local id = string.format('%d', math.max(last + 1, tonumber(ARGV[1])))
        local frame = ARGV[4]
        for i = 5, #ARGV do
            frame = frame .. id .. ARGV[i]
        end
        redis.call('SET', KEYS[1], id, 'EX', ARGV[3])
        redis.call('ZADD', KEYS[2], id, frame)
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[2])
        redis.call('EXPIRE', KEYS[2], ARGV[3])
        return id
    """

    def _redis(self):
        return keyvalue.async_redis_client()

    async def record(self, channel: str, template: list[str]) -> tuple[int, str]:
        """Give the next event of `channel` its id and keep it; the id and the finished frame."""
        seq, history = f"{PREFIX}seq:{channel}", f"{PREFIX}history:{channel}"
        now, kept = _now_ms(), settings.REALTIME_HISTORY_SECONDS
        args = (now, now - kept * 1000, kept + 60, *template)  # ARGV as RECORD reads them
        event_id = int(await self._redis().eval(self.RECORD, 2, seq, history, *args))
        return event_id, fill_event_id(template, event_id)

    async def history(self, channel: str, after: int, limit: int) -> list[str]:
        key = f"{PREFIX}history:{channel}"
        oldest = _now_ms() - settings.REALTIME_HISTORY_SECONDS * 1000
        frames = await self._redis().zrangebyscore(key, f"({max(after, oldest - 1)}", "+inf", 0, limit)
        return list(frames)

    # presence: one hash per channel, socket id -> {"user_id", "user_info", "seen"}

    def _presence_key(self, channel: str) -> str:
        return f"{PREFIX}presence:{channel}"

    @staticmethod
    def _entries(raw: dict) -> dict[str, dict]:
        return {k: json.loads(v) for k, v in raw.items()}

    async def presence_join(self, channel: str, socket_id: str, member: Member) -> PresenceResult:
        key = self._presence_key(channel)
        now = time.time()
        entry = json.dumps({**member.as_dict(), "seen": now})
        redis = self._redis()
        async with redis.pipeline(transaction=True) as pipe:
            _, raw = await pipe.hset(key, socket_id, entry).hgetall(key).execute()
        entries = self._entries(raw)
        members, stale, others = _presence_view(entries, now, joining=socket_id)
        if stale:
            await redis.hdel(key, *stale)
        added = None if member.user_id in others else member
        return PresenceResult(members, added, _departed(entries, stale, members))

    async def presence_leave(self, channel: str, socket_id: str) -> PresenceResult:
        key = self._presence_key(channel)
        redis = self._redis()
        async with redis.pipeline(transaction=True) as pipe:
            raw, _ = await pipe.hgetall(key).hdel(key, socket_id).execute()
        entries = self._entries(raw)
        now = time.time()
        left = {k: v for k, v in entries.items() if k != socket_id}
        members, stale, _ = _presence_view(left, now)
        if stale:
            await redis.hdel(key, *stale)
        return PresenceResult(members, None, _departed(entries, [socket_id, *stale], members))

    async def presence_refresh(self, entries: list[tuple[str, str, Member]]) -> None:
        """Mark this process's entries alive in one round trip (the layer check has a deadline)."""
        now, by_key = time.time(), {}
        for channel, socket_id, member in entries:
            entry = json.dumps({**member.as_dict(), "seen": now})
            by_key.setdefault(self._presence_key(channel), {})[socket_id] = entry
        async with self._redis().pipeline(transaction=False) as pipe:
            for key, mapping in by_key.items():
                pipe.hset(key, mapping=mapping).expire(key, int(_stale_after() * 2) + 60)
            await pipe.execute()


class MemoryStore:
    """The same operations for the in-memory layer, shared by the threads of this process."""

    def __init__(self):
        self._lock = threading.Lock()
        self._last_id: dict[str, int] = {}
        self._history: dict[str, list[tuple[int, str]]] = {}
        self._presence: dict[str, dict[str, dict]] = {}

    async def record(self, channel: str, template: list[str]) -> tuple[int, str]:
        now = _now_ms()
        oldest = now - settings.REALTIME_HISTORY_SECONDS * 1000
        with self._lock:
            event_id = max(self._last_id.get(channel, 0) + 1, now)
            self._last_id[channel] = event_id
            kept = [item for item in self._history.get(channel, []) if item[0] >= oldest]
            frame = fill_event_id(template, event_id)
            kept.append((event_id, frame))
            self._history[channel] = kept
        return event_id, frame

    async def history(self, channel: str, after: int, limit: int) -> list[str]:
        oldest = _now_ms() - settings.REALTIME_HISTORY_SECONDS * 1000
        with self._lock:
            items = self._history.get(channel, [])
            return [text for event_id, text in items if event_id > after and event_id >= oldest][:limit]

    async def presence_join(self, channel: str, socket_id: str, member: Member) -> PresenceResult:
        now = time.time()
        with self._lock:
            entries = self._presence.setdefault(channel, {})
            entries[socket_id] = {**member.as_dict(), "seen": now}
            snapshot = dict(entries)
            members, stale, others = _presence_view(snapshot, now, joining=socket_id)
            for gone in stale:
                entries.pop(gone, None)
        added = None if member.user_id in others else member
        return PresenceResult(members, added, _departed(snapshot, stale, members))

    async def presence_leave(self, channel: str, socket_id: str) -> PresenceResult:
        now = time.time()
        with self._lock:
            entries = self._presence.get(channel, {})
            snapshot = dict(entries)
            entries.pop(socket_id, None)
            members, stale, _ = _presence_view(entries, now)
            for gone in stale:
                entries.pop(gone, None)
            if not entries:
                self._presence.pop(channel, None)
        return PresenceResult(members, None, _departed(snapshot, [socket_id, *stale], members))

    async def presence_refresh(self, entries: list[tuple[str, str, Member]]) -> None:
        now = time.time()
        with self._lock:
            for channel, socket_id, member in entries:
                self._presence.setdefault(channel, {})[socket_id] = {**member.as_dict(), "seen": now}


_store: RedisStore | MemoryStore | None = None
_store_lock = threading.Lock()


def get_store() -> RedisStore | MemoryStore:
    """The store of this profile: on Redis where the key-value store has it, else this process's."""
    global _store
    with _store_lock:
        wanted = MemoryStore if keyvalue.redis_client() is None else RedisStore
        if not isinstance(_store, wanted):
            _store = wanted()
        return _store
