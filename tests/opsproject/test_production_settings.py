"""DJANGO_ENV=production is strict: one error naming everything wrong, or a clean start."""

import os
import secrets
import subprocess

import pytest

from tests.support.processes import PYTHON, REPO


def generated() -> str:
    return secrets.token_urlsafe(48)


GOOD = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": generated(),
    "DATABASE_URL": "mysql://ops:pw@db.internal:3306/ops",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "ALLOWED_HOSTS": "helpdesk.example.com",
    "DEBUG": "0",
    "MAILGUN_API_KEY": "key-production-test",
    "MAILGUN_SENDER_DOMAIN": "mg.example.com",
    "MAILGUN_WEBHOOK_SIGNING_KEY": generated(),
    "DEFAULT_FROM_EMAIL": "Helpdesk <helpdesk@mg.example.com>",
    "BACKUP_AGE_RECIPIENTS": "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
    "REALTIME_APP_KEY": "helpdesk-production-key",
    "REALTIME_APP_SECRET": generated(),
    "BACKUP_MANIFEST_KEY": generated(),
    "BACKUP_ALLOW_LOCAL": "true",  # archives in a local folder (no bucket to reach in these tests)
}
VARIABLES = (
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "ALLOWED_HOSTS",
    "REALTIME_APP_KEY",
    "REALTIME_APP_SECRET",
)


def _start(overrides: dict[str, str | None], *command: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in (*GOOD, "VAR_DIR")}
    for key, value in {**GOOD, **overrides}.items():
        if value is not None:
            env[key] = value
    return subprocess.run(
        [PYTHON, *(command or ("manage.py", "check"))],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _error_lines(done: subprocess.CompletedProcess) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.startswith("django.core.exceptions.Improperly")]


def test_all_required_variables_set_starts_cleanly():
    done = _start({})
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues" in done.stdout


def test_every_missing_variable_is_named_in_one_error():
    done = _start(dict.fromkeys(VARIABLES))
    assert done.returncode != 0
    errors = _error_lines(done)
    assert len(errors) == 1, done.stderr
    for name in VARIABLES:
        assert name in errors[0]


def test_empty_value_counts_as_missing():
    done = _start({"REDIS_URL": "", "SECRET_KEY": "  "})
    assert "missing required variables: SECRET_KEY, REDIS_URL" in done.stderr


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DATABASE_URL": "sqlite:////tmp/ops.sqlite3"}, "DATABASE_URL points at SQLite"),
        ({"DEBUG": "1"}, "DEBUG must be off in production"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY is shorter than 50 characters"),
        ({"ALLOWED_HOSTS": "helpdesk.example.com,*"}, "ALLOWED_HOSTS must name the hosts, not '*'"),
        ({"REALTIME_ALLOWED_ORIGINS": "*"}, "REALTIME_ALLOWED_ORIGINS must name the origins, not '*'"),
    ],
)
def test_refused_values(overrides, message):
    done = _start(overrides)
    assert done.returncode != 0
    assert message in done.stderr


def test_refusals_and_missing_values_come_together():
    done = _start({"DEBUG": "true", "DATABASE_URL": "sqlite:///x.db", "REDIS_URL": None})
    errors = _error_lines(done)
    assert len(errors) == 1
    assert "REDIS_URL" in errors[0] and "DEBUG" in errors[0] and "SQLite" in errors[0]


def test_secrets_never_appear_in_the_error():
    done = _start({"SECRET_KEY": "s3cr3t", "REDIS_URL": None})
    assert "s3cr3t" not in done.stderr


def test_several_bad_values_are_named_together_in_one_error_and_exit_2():
    """Casts (django-environ's) and bounds alike: every refusal in the one error, none on its own."""
    bad = {
        "WEB_THREADS": "0",
        "API_PAGE_SIZE": "lots",
        "HEALTH_TIMEOUT": "soon",
        "SECURE_HSTS_PRELOAD": "perhaps",
        "QUEUE_BACKOFF": "10,x",
        "BACKUP_SCHEDULE": "25:00",
        "BACKUP_BINLOG_INTERVAL": "5",
        "BEAT_LOCK_TTL": "1",
        "REALTIME_MAX_SUBSCRIPTIONS": "0",
        "API_THROTTLE_ANON": "many/minute",
        "LOG_FORMAT": "xml",
        "MAIL_SOFT_BOUNCE_LIMIT": "0",
        "OPS_DASHBOARD_REFRESH": "0",
    }
    done = _start({**bad, "REDIS_URL": None})
    assert done.returncode == 2, done.stderr
    errors = _error_lines(done)
    assert len(errors) == 1, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr  # no traceback beside it
    assert "missing required variables: REDIS_URL" in errors[0]
    for name in bad:
        assert name in errors[0], name
    assert "API_PAGE_SIZE must be a whole number" in errors[0]
    assert "SECURE_HSTS_PRELOAD must be true or false" in errors[0]


def test_development_refuses_the_same_values_in_one_error_too():
    done = _start({"DJANGO_ENV": "development", "WEB_THREADS": "many", "DEBUG": "perhaps"})
    assert done.returncode == 2, done.stderr
    errors = _error_lines(done)
    assert len(errors) == 1 and errors[0].startswith(
        "django.core.exceptions.ImproperlyConfigured: DJANGO_ENV=development: refused:"
    )
    assert "WEB_THREADS must be a whole number" in errors[0] and "DEBUG must be true or false" in errors[0]


def test_an_empty_number_counts_as_unset():
    assert _start({"WEB_THREADS": "", "API_PAGE_SIZE": " "}).returncode == 0


def test_backups_only_in_a_local_folder_are_refused_unless_allowed():
    refused = _start({"BACKUP_ALLOW_LOCAL": None})
    assert refused.returncode != 0
    (error,) = _error_lines(refused)
    assert "BACKUP_S3_BUCKET is not set: production keeps backups off the host" in error
    assert "BACKUP_ALLOW_LOCAL=true" in error
    with_bucket = _start({"BACKUP_ALLOW_LOCAL": None, "BACKUP_S3_BUCKET": "opsproject-backups"})
    assert with_bucket.returncode == 0, with_bucket.stderr


def test_queue_history_out_of_order_names_all_three_variables_with_their_values():
    done = _start({"OPS_HISTORY_RETENTION": "600"})  # shorter than the 3 h kept raw
    errors = _error_lines(done)
    assert len(errors) == 1, done.stderr
    assert (
        "OPS_HISTORY_SAMPLE_SECONDS (60) <= OPS_HISTORY_RAW_SECONDS (10800) <= OPS_HISTORY_RETENTION (600)"
        " must hold"
    ) in errors[0]
