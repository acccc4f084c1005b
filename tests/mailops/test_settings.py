"""Production refuses to start without Mailgun (the console backend), naming every mail variable."""

import os
import subprocess

from tests.opsproject.test_production_settings import _error_lines, _start
from tests.support.processes import PYTHON, REPO

MAIL_VARIABLES = (
    "MAILGUN_API_KEY",
    "MAILGUN_SENDER_DOMAIN",
    "MAILGUN_WEBHOOK_SIGNING_KEY",
    "DEFAULT_FROM_EMAIL",
)


def test_production_names_every_missing_mail_variable_in_one_error():
    done = _start(dict.fromkeys(MAIL_VARIABLES))

    assert done.returncode != 0
    [error] = _error_lines(done)
    for name in MAIL_VARIABLES:
        assert name in error
    assert "key-production-test" not in done.stderr


def test_production_with_mailgun_set_misses_no_mail_variable():
    done = _start({})

    assert not any(name in done.stderr for name in MAIL_VARIABLES), done.stderr


def test_the_api_key_picks_anymail_and_the_eu_url_may_carry_v3():
    script = "from django.conf import settings as s; print(s.EMAIL_BACKEND, s.ANYMAIL['MAILGUN_API_URL'])"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAILGUN_", "DJANGO_ENV"))}
    env.update(MAILGUN_API_KEY="key-x", MAILGUN_API_URL="https://api.eu.mailgun.net/v3/")
    done = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip().splitlines()[-1].split() == [
        "anymail.backends.mailgun.EmailBackend",
        "https://api.eu.mailgun.net/v3",
    ]

    del env["MAILGUN_API_KEY"]
    done = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip().splitlines()[-1].split()[0] == "django.core.mail.backends.console.EmailBackend"
