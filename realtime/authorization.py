"""Who may subscribe to which private and presence channel: a registry of channel rules.

A rule `(user, channel, params) -> bool | dict` refuses with a false value and allows with True
or, on a presence channel, with a dict of `user_id` and `user_info` to show the other members.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from realtime import protocol
from realtime.store import Member

logger = logging.getLogger("realtime.authorization")

Authorizer = Callable[[object, str, dict], object]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Rule:
    pattern: str
    regex: re.Pattern
    authorizer: Authorizer


_rules: list[Rule] = []


def _compile(pattern: str) -> re.Pattern:
    parts, position = [], 0
    for match in _PLACEHOLDER.finditer(pattern):
        parts.append(re.escape(pattern[position : match.start()]))
        parts.append(f"(?P<{match.group(1)}>[A-Za-z0-9_\\-=@,;]+)")
        position = match.end()
    parts.append(re.escape(pattern[position:]))
    return re.compile("".join(parts))


def register_channel(pattern: str, authorizer: Authorizer | None = None):
    """Register `authorizer` for channels matching `pattern`; usable as a decorator."""
    if protocol.channel_kind(pattern) == protocol.PUBLIC:
        raise ValueError(f"only private- and presence- channels take a rule, not {pattern!r}")

    def register(function: Authorizer) -> Authorizer:
        if not any(rule.pattern == pattern and rule.authorizer is function for rule in _rules):
            _rules.append(Rule(pattern, _compile(pattern), function))
        return function

    return register(authorizer) if authorizer is not None else register


def unregister_channel(pattern: str) -> None:
    _rules[:] = [rule for rule in _rules if rule.pattern != pattern]


class Refused(Exception):
    """A subscription or history read that is not allowed; `reason` goes to the log."""

    def __init__(self, reason: str, status: int = 403):
        super().__init__(reason)
        self.reason = reason
        self.status = status


def refuse(user, channel: str, reason: str, status: int = 403) -> Refused:
    label = f"user {user.pk}" if getattr(user, "is_authenticated", False) else "anonymous"
    logger.warning("realtime authorization refused: %s, channel %r: %s", label, channel, reason)
    return Refused(reason, status)


def default_member(user) -> Member:
    name = (user.get_full_name() if hasattr(user, "get_full_name") else "") or user.get_username()
    return Member(str(user.pk), {"name": name})


def authorize(user, channel: str) -> Member | None:
    """Check `user` may follow `channel` (Refused, logged, if not); a presence channel's member."""
    if not protocol.valid_channel_name(channel):
        raise refuse(user, str(channel)[:200], "invalid channel name", 400)
    kind = protocol.channel_kind(channel)
    if kind == protocol.PUBLIC:
        return None
    if user is None or not user.is_authenticated:
        raise refuse(user, channel, "not authenticated", 401)
    for rule in _rules:
        match = rule.regex.fullmatch(channel)
        if match is None:
            continue
        verdict = rule.authorizer(user, channel, match.groupdict())
        if not verdict:
            name = getattr(rule.authorizer, "__qualname__", repr(rule.authorizer))
            raise refuse(user, channel, f"refused by rule {rule.pattern!r} ({name})")
        if kind != protocol.PRESENCE:
            return None
        if isinstance(verdict, dict):
            base = default_member(user)
            return Member(str(verdict.get("user_id", base.user_id)), verdict.get("user_info", base.user_info))
        return default_member(user)
    raise refuse(user, channel, "no rule matches this channel")


def subscription_auth(user, socket_id: str, channel: str) -> dict:
    """The body of a successful POST /broadcasting/auth: `auth` (and presence `channel_data`)."""
    if not protocol.valid_socket_id(socket_id):
        raise refuse(user, str(channel)[:200], "invalid socket_id", 400)
    if protocol.channel_kind(str(channel)) == protocol.PUBLIC and protocol.valid_channel_name(channel):
        raise refuse(user, channel, "public channels need no authorization", 400)
    member = authorize(user, channel)
    if member is None:
        return {"auth": protocol.auth_token(socket_id, channel)}
    channel_data = json.dumps(member.as_dict(), separators=(",", ":"))
    return {"auth": protocol.auth_token(socket_id, channel, channel_data), "channel_data": channel_data}
