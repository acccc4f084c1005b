"""Production refuses weak, placeholder and development secrets, naming each, never echoing one."""

import re

import pytest

from tests.opsproject.test_production_settings import GOOD, _error_lines, _start, generated
from tests.support.processes import REPO

SECRETS = (
    "SECRET_KEY",
    "REALTIME_APP_SECRET",
    "MAILGUN_WEBHOOK_SIGNING_KEY",
    "WEBHOOK_SECRET",
    "HEALTH_TOKEN",
    "METRICS_TOKEN",
    "BACKUP_MANIFEST_KEY",
)
DEV_SECRET_KEY = "django-insecure-development-only-key-never-use-in-production-0123456789"


def _example_values() -> dict[str, str]:
    text = (REPO / "compose" / "production.env.example").read_text()
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", text, re.MULTILINE))


def _refused(done) -> str:
    errors = _error_lines(done)
    assert done.returncode != 0 and len(errors) == 1, done.stderr
    return errors[0]


@pytest.mark.parametrize(
    "weak",
    [
        "x" * 64,  # too little variety
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",  # a sequence
        "a1b2c3d4e5f6" * 6,  # a repeated pattern
        "Zq9!xT2#",  # short
        "change-me-to-at-least-50-random-characters-0123456789",  # the template's placeholder
    ],
)
def test_each_weak_secret_is_named_in_one_error_without_its_value(weak):
    done = _start(dict.fromkeys(SECRETS, weak))
    error = _refused(done)
    for name in SECRETS:
        assert f"{name} is " in error
    assert weak not in done.stderr and weak[:12] not in done.stderr
    assert "secrets.token_urlsafe" in error


def test_the_development_secret_key_is_refused_even_when_set_explicitly():
    error = _refused(_start({"SECRET_KEY": DEV_SECRET_KEY}))
    assert "SECRET_KEY is a placeholder or development value" in error
    assert DEV_SECRET_KEY not in error


def test_every_secret_value_of_the_env_template_is_refused():
    template = _example_values()
    copied = {name: template[name] for name in SECRETS if template.get(name)}
    assert {"SECRET_KEY", "REALTIME_APP_SECRET", "MAILGUN_WEBHOOK_SIGNING_KEY", "BACKUP_MANIFEST_KEY"} <= set(
        copied
    )
    error = _refused(_start(copied))
    for name in copied:
        assert f"{name} is a placeholder" in error


@pytest.mark.parametrize("name", SECRETS)
def test_a_weak_previous_value_is_refused_too(name):
    error = _refused(_start({f"{name}_PREVIOUS": "short-old-value"}))
    assert f"{name}_PREVIOUS is shorter than" in error


def test_generated_secrets_and_previous_values_start_cleanly():
    extra = {name: generated() for name in ("HEALTH_TOKEN", "METRICS_TOKEN")}
    extra["WEBHOOK_SECRET"] = f"mailgun:{generated()}"
    extra.update({f"{name}_PREVIOUS": generated() for name in SECRETS if name != "WEBHOOK_SECRET"})
    extra["SECRET_KEY_PREVIOUS"] = generated()
    done = _start(extra)
    assert done.returncode == 0, done.stderr


def test_the_manifest_key_is_required():
    done = _start({"BACKUP_MANIFEST_KEY": None})
    assert "missing required variables: BACKUP_MANIFEST_KEY" in done.stderr
    assert GOOD["SECRET_KEY"] not in done.stderr


def test_the_env_template_copied_as_it_is_is_refused_naming_every_placeholder():
    template = _example_values()
    error = _refused(_start(template))
    for name in ("DATABASE_URL", "MAILGUN_API_KEY", "BACKUP_AGE_RECIPIENTS", "BACKUP_S3_SECRET_ACCESS_KEY"):
        assert f"{name} still holds the env template's placeholder" in error
    for name in ("SECRET_KEY", "HEALTH_TOKEN", "METRICS_TOKEN", "BACKUP_MANIFEST_KEY"):
        assert f"{name} is a placeholder" in error
    assert "change-me" not in error  # names only, never the values
