"""The one Anymail behaviour mailops.webhook relies on beyond its documented hooks, pinned.

Anymail documents that every `validate_request` in a webhook view's class chain is called
(AnymailCoreWebhookView.validate_request's docstring); that they are called in MRO order, so
ours runs before Mailgun's signature check and can pick the previous key during a rotation, is
what `anymail.utils.collect_all_methods` does in the version this was written against. An
upgrade must re-read it: this test names the version, tests/mailops/test_webhook.py's rotation
test checks the behaviour.
"""

from __future__ import annotations

from importlib.metadata import version

import pytest
from anymail.exceptions import AnymailWebhookValidationFailure
from django.test import RequestFactory

from mailops.webhook import MailgunTrackingWebhook
from tests.mailops.signing import SIGNING_KEY, payload

WRITTEN_AGAINST = "15.2"


def test_anymail_is_the_version_the_webhook_was_written_against():
    assert version("django-anymail") == WRITTEN_AGAINST, (
        "django-anymail changed: re-read mailops/webhook.py's validate_request (validator order)"
    )


def test_our_validator_runs_before_mailguns_signature_check(settings):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": "the-new-key-0123456789", "WEBHOOK_SECRET": None}
    settings.MAILGUN_WEBHOOK_SIGNING_KEY_PREVIOUS = SIGNING_KEY
    request = RequestFactory().post(
        "/", data=payload("delivered", "a@example.com", key=SIGNING_KEY), content_type="application/json"
    )
    view = MailgunTrackingWebhook()

    view.run_validators(request)  # signed with the previous key: accepted

    settings.MAILGUN_WEBHOOK_SIGNING_KEY_PREVIOUS = ""
    with pytest.raises(AnymailWebhookValidationFailure):
        MailgunTrackingWebhook().run_validators(request)
