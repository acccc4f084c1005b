"""What a secret must look like in production, and how a presented one is matched during a rotation.

settings.py asks `weakness()` about every secret (and its `<NAME>_PREVIOUS`) in production and
refuses the NAME, never the value. The apps ask `matches()` whether a presented token or a
signature fits the current value or, while a rotation is under way, the previous one:

    matches(presented, settings.HEALTH_TOKEN, settings.HEALTH_TOKEN_PREVIOUS)

Signing always uses the current value; only checking accepts both.
"""

from __future__ import annotations

import hmac
import itertools

MIN_LENGTH = 32
MIN_DISTINCT = 10

# The development defaults of settings.py and the values compose/production.env.example ships:
# whoever copied one of these into production did not generate a secret.
PLACEHOLDERS = frozenset(
    {
        "django-insecure-development-only-key-never-use-in-production-0123456789",
        "opsproject-development-secret",
        "opsproject-development-key",
    }
)
# In any value: the template's `change-me...`. In a secret also these, which no generator makes.
TEMPLATE_MARKS = ("change-me", "changeme", "change_me")
PLACEHOLDER_MARKS = (*TEMPLATE_MARKS, "django-insecure", "development-only", "example")
# Template values that are not secrets but are still not real (the age key is cut short).
TEMPLATE_VALUES = frozenset({"age1..."})

GENERATE = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'


def weakness(value: str, min_length: int = MIN_LENGTH) -> str | None:
    """Why `value` is not a production secret (a reason without the value), or None."""
    lowered = value.lower()
    if value in PLACEHOLDERS or any(mark in lowered for mark in PLACEHOLDER_MARKS):
        return "a placeholder or development value"
    if len(value) < min_length:
        return f"shorter than {min_length} characters"
    if len(set(value)) < MIN_DISTINCT:
        return f"fewer than {MIN_DISTINCT} distinct characters"
    if (value + value).find(value, 1) < len(value):
        return "a repeated pattern"
    # abcd..., 1234..., aabb...: a generated value rarely moves by one code point or none.
    small_steps = sum(1 for a, b in itertools.pairwise(value) if abs(ord(b) - ord(a)) <= 1)
    if small_steps > len(value) // 2:
        return "a sequence"
    return None


def is_template_value(value: str) -> bool:
    """Whether a (not necessarily secret) value was left as compose/production.env.example has it."""
    lowered = value.lower()
    return value in TEMPLATE_VALUES or any(mark in lowered for mark in TEMPLATE_MARKS)


def matches(presented: str | bytes, *valid: str) -> bool:
    """Whether `presented` equals one of the non-empty `valid` values, each compared in constant time.

    Every value is compared (no early return), so the answer's timing tells nothing about which
    one matched. Non-ASCII input is compared as UTF-8 bytes, never refused with a TypeError.
    """
    given = presented.encode("utf-8", "surrogatepass") if isinstance(presented, str) else presented
    found = False
    for value in valid:
        if value:
            found |= hmac.compare_digest(given, value.encode("utf-8", "surrogatepass"))
    return found


def current_and_previous(current: str, previous: str) -> list[str]:
    """The values a check accepts: the current one, then the previous one while it is set."""
    return [value for value in (current, previous) if value]
