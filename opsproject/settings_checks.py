"""Reading the environment so that every bad value is reported at once, in ONE error.

settings.py reads each variable through `CheckedEnv` (django-environ's Env) and files what it
refuses in `Problems`; at its end, `Problems.raise_if_any` raises one ImproperlyConfigured that
names everything missing or refused, so an operator fixes the env file in one go rather than
one start-up per mistake:

    problems = Problems()
    env = CheckedEnv(problems)
    WORKERS = env.int("WORKERS", default=4, least=1)  # "four": refused by name, 4 stands in
    ...
    problems.raise_if_any("production")

A refusal names the variable and the rule, never the value: it may be a secret.
"""

from __future__ import annotations

import math
import re

import environ
from django.core.exceptions import ImproperlyConfigured

from opsproject import secret_values

# What each of django-environ's casts expects, as the error says it.
_EXPECTED = {
    int: "a whole number",
    float: "a number",
    bool: "true or false (1/0, yes/no, on/off)",
}
_BOOLEAN_FALSE_STRINGS = ("false", "off", "n", "no", "0", "")
# Past this a count of seconds overflows timedelta (LOGIN_LOCKOUT_SECONDS): no setting needs more.
_LARGEST_INT = 10**12


class Problems:
    """What reading the environment refused: missing required variables, refused values, and
    the secrets among them refused as weak (the error then says how to generate one)."""

    def __init__(self) -> None:
        self.missing: list[str] = []
        self.refused: list[str] = []
        self.weak: list[str] = []

    def refuse(self, message: str) -> None:
        if message not in self.refused:
            self.refused.append(message)

    def raise_if_any(self, profile: str) -> None:
        if not (self.missing or self.refused):
            return
        parts = []
        if self.missing:
            parts.append("missing required variables: " + ", ".join(self.missing))
        if self.refused:
            parts.append("refused: " + "; ".join(self.refused))
        if self.weak:
            parts.append(f"generate each secret with: {secret_values.GENERATE}")
        raise ImproperlyConfigured(f"DJANGO_ENV={profile}: " + " | ".join(parts))


class CheckedEnv(environ.Env):
    """django-environ's Env whose casts do not raise: a value that does not cast (`WEB_THREADS=
    many`, `DEBUG=perhaps`) is refused by name in `problems` and the default stands in, so
    reading goes on and every other problem is found too. An empty number (`X=` in an env
    file) counts as unset, as it does for strings."""

    def __init__(self, problems: Problems, **scheme):
        super().__init__(**scheme)
        self.problems = problems

    def get_value(self, var, cast=None, default=environ.Env.NOTSET, parse_default=False):
        raw = self.ENVIRON.get(f"{self.prefix}{var}")
        if raw is not None and not raw.strip() and cast in (int, float) and default is not self.NOTSET:
            return default
        if cast is float and raw is not None:
            # Not django-environ's float, which deletes every character but digits, commas and
            # dots first ("2m" is 2, "1e400" is 1400): a number as Python writes one, finite.
            try:
                value = float(raw)
            except ValueError:
                value = math.nan
            return value if math.isfinite(value) else self._refused(var, cast, default)
        try:
            value = super().get_value(var, cast=cast, default=default, parse_default=parse_default)
        except ImproperlyConfigured:  # set nowhere and no default
            self.problems.missing.append(var)
            return None
        except (ValueError, TypeError):
            return self._refused(var, cast, default)
        # float() takes "nan" and "inf": NaN passes every `<= 0` check after, infinity is no
        # timeout at all.
        if raw is not None and (
            (cast is bool and not _is_boolean(raw))
            or (cast == [float] and not all(math.isfinite(item) for item in value))
        ):
            return self._refused(var, cast, default)
        if cast is int and raw is not None and abs(value) > _LARGEST_INT:
            self.problems.refuse(f"{var} must be at most 10^12")
            return None if default is self.NOTSET else default
        return value

    def int(self, var, default=environ.Env.NOTSET, *, least=None):
        """`least`: a smaller number is refused by name (with the number: it is no secret)."""
        return self._bounded(var, super().int(var, default=default), least, None)

    def float(self, var, default=environ.Env.NOTSET, *, least=None, above=None):
        """`least` as for int; `above`: the number must be greater (a timeout above 0)."""
        return self._bounded(var, super().float(var, default=default), least, above)

    def _bounded(self, var, value, least, above):
        if value is not None and least is not None and value < least:
            self.problems.refuse(f"{var} must be at least {least}, not {value}")
        if value is not None and above is not None and value <= above:
            self.problems.refuse(f"{var} must be above {above}, not {value}")
        return value

    def _refused(self, var, cast, default):
        """File the refusal; the default stands in (None without one)."""
        self.problems.refuse(f"{var} must be {_expected(cast)}")
        return None if default is self.NOTSET else default


def _expected(cast) -> str:
    if isinstance(cast, list) and cast:
        return f"a comma-separated list, each {_EXPECTED.get(cast[0], 'valid')}"
    return _EXPECTED.get(cast, "valid")


def _is_boolean(raw: str) -> bool:
    word = raw.strip().lower()
    return word in environ.Env.BOOLEAN_TRUE_STRINGS or word in _BOOLEAN_FALSE_STRINGS or word.isdigit()


def is_rate(value: str, periods) -> bool:
    """A rate like `120/minute`: a whole number above 0 per one of `periods`."""
    count, _, period = value.partition("/")
    return re.fullmatch(r"[1-9][0-9]*", count) is not None and period in periods
