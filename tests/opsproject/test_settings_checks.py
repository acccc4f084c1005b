"""opsproject.settings_checks: django-environ's casts that file a bad value instead of raising."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from opsproject.settings_checks import CheckedEnv, Problems, is_rate


@pytest.fixture
def reading(monkeypatch):
    def read(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        problems = Problems()
        return CheckedEnv(problems), problems

    return read


def test_good_values_cast_as_django_environ_casts_them(reading):
    env, problems = reading(T_INT="7", T_FLOAT="0.5", T_BOOL="yes", T_LIST="1,2.5")
    assert env.int("T_INT", default=1) == 7
    assert env.float("T_FLOAT", default=1.0) == 0.5
    assert env.bool("T_BOOL", default=False) is True
    assert env.list("T_LIST", cast=float, default=[]) == [1.0, 2.5]
    assert env.int("T_UNSET", default=3) == 3
    problems.raise_if_any("production")


def test_bad_values_are_filed_by_name_with_the_default_standing_in(reading):
    env, problems = reading(T_INT="seven", T_FLOAT="half", T_BOOL="perhaps", T_LIST="1,x")
    assert env.int("T_INT", default=1) == 1
    assert env.float("T_FLOAT", default=2.0) == 2.0
    assert env.bool("T_BOOL", default=False) is False
    assert env.list("T_LIST", cast=float, default=[9.0]) == [9.0]
    assert problems.refused == [
        "T_INT must be a whole number",
        "T_FLOAT must be a number",
        "T_BOOL must be true or false (1/0, yes/no, on/off)",
        "T_LIST must be a comma-separated list, each a number",
    ]
    with pytest.raises(ImproperlyConfigured) as error:
        problems.raise_if_any("production")
    message = str(error.value)
    assert message.startswith("DJANGO_ENV=production: refused: T_INT must be a whole number; ")
    assert "seven" not in message and "perhaps" not in message  # never the value: it may be a secret


def test_an_empty_number_is_unset_and_a_variable_without_default_is_missing(reading):
    env, problems = reading(T_INT=" ")
    assert env.int("T_INT", default=4) == 4
    assert env.str("T_NOWHERE") is None
    assert problems.missing == ["T_NOWHERE"] and problems.refused == []


@pytest.mark.parametrize(
    ("rate", "valid"),
    [("120/minute", True), ("1/second", True), ("0/hour", False), ("many/day", False), ("5/week", False)],
)
def test_rates(rate, valid):
    assert is_rate(rate, ("second", "minute", "hour", "day")) is valid


@pytest.mark.parametrize("word", ["nan", "inf", "-Infinity", "1e400"])
def test_a_number_that_is_not_finite_is_refused(reading, word):
    # NaN passes every `< 0` / `<= 0` check settings.py makes; infinity is no timeout at all.
    env, problems = reading(T_FLOAT=word, T_LIST=f"1,{word}")
    assert env.float("T_FLOAT", default=2.0) == 2.0
    assert env.list("T_LIST", cast=float, default=[9.0]) == [9.0]
    assert problems.refused == [
        "T_FLOAT must be a number",
        "T_LIST must be a comma-separated list, each a number",
    ]


@pytest.mark.parametrize("word", ["2m", "1.5e3x", "1,5"])
def test_a_number_with_letters_or_commas_is_refused_not_misread(reading, word):
    # django-environ's own float deletes what is not a digit: "2m" would be read as 2 seconds.
    env, problems = reading(T_FLOAT=word)
    assert env.float("T_FLOAT", default=2.5) == 2.5
    assert problems.refused == ["T_FLOAT must be a number"]


def test_a_number_in_exponent_form_is_read_as_python_reads_it(reading):
    env, problems = reading(T_FLOAT=" 1.5e3 ")
    assert env.float("T_FLOAT", default=2.5) == 1500.0
    assert problems.refused == []


def test_a_number_out_of_its_bounds_is_refused_by_name_with_the_number(reading):
    env, problems = reading(T_INT="0", T_FLOAT="0", T_OK="3")
    assert env.int("T_INT", default=4, least=1) == 0
    assert env.float("T_FLOAT", default=1.0, above=0) == 0.0
    assert env.int("T_OK", default=4, least=3) == 3
    assert env.int("T_UNSET", default=4, least=1) == 4
    assert problems.refused == ["T_INT must be at least 1, not 0", "T_FLOAT must be above 0, not 0.0"]


def test_a_whole_number_past_any_setting_s_need_is_refused_not_an_overflow(reading):
    env, problems = reading(T_HUGE="99999999999999999999", T_BIG="1000000000000")
    assert env.int("T_HUGE", default=900) == 900  # timedelta(seconds=...) would overflow
    assert env.int("T_BIG", default=1) == 10**12
    assert problems.refused == ["T_HUGE must be at most 10^12"]
