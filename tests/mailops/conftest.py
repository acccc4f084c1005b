"""Fixtures of the mail tests: a local Mailgun, settings pointing Anymail at it, the webhook URL."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from mailops import credentials
from tests.mailops.fake_mailgun import FakeMailgun
from tests.mailops.signing import SIGNING_KEY

WEBHOOK_PATH = "/anymail/mailgun/tracking/"


@pytest.fixture
def mailgun():
    fake = FakeMailgun().start()
    yield fake
    fake.stop()


def mail_env(fake: FakeMailgun) -> dict[str, str]:
    """The environment a child process (worker, manage.py) needs to use `fake` as Mailgun."""
    return {
        "MAILGUN_API_KEY": fake.key,
        "MAILGUN_SENDER_DOMAIN": fake.domain,
        "MAILGUN_API_URL": fake.url,
        "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY,
        "DEFAULT_FROM_EMAIL": f"Helpdesk <helpdesk@{fake.domain}>",
    }


@pytest.fixture
def mail_settings(settings, mailgun):
    """This process sends through Anymail's Mailgun backend to the local Mailgun."""
    settings.EMAIL_BACKEND = "anymail.backends.mailgun.EmailBackend"
    settings.MAILGUN_API_KEY = mailgun.key
    settings.MAILGUN_SENDER_DOMAIN = mailgun.domain
    settings.MAILGUN_API_URL = mailgun.url
    settings.MAILGUN_WEBHOOK_SIGNING_KEY = SIGNING_KEY
    settings.DEFAULT_FROM_EMAIL = f"Helpdesk <helpdesk@{mailgun.domain}>"
    settings.ANYMAIL = {
        "MAILGUN_API_KEY": mailgun.key,
        "MAILGUN_SENDER_DOMAIN": mailgun.domain,
        "MAILGUN_API_URL": f"{mailgun.url}/v3",
        "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY,
        "WEBHOOK_SECRET": None,
        "REQUESTS_TIMEOUT": 5,
    }
    cache.delete(credentials._cache_key())
    yield settings
    cache.delete(credentials._cache_key())


@pytest.fixture
def webhook_url(live_server, mail_settings) -> str:
    return live_server.url + WEBHOOK_PATH
