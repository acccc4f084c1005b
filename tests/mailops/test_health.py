"""The `mail` health check against a local Mailgun: each state, the cache, the bounce rate."""

from __future__ import annotations

import json
import re

import pytest
from django.utils import timezone

from alerts.models import Alert
from health import runner
from health.registry import checks_of
from mailops import credentials
from mailops.health_checks import results
from mailops.models import MailEvent, OutboundMessage
from mailops.tasks import refresh_credentials
from tests.mailops.conftest import mail_env
from tests.queueops.conftest import manage

pytestmark = pytest.mark.django_db


def _by_key(found) -> dict:
    return {result.key: result for result in found}


@pytest.mark.parametrize(
    ("state", "status"), [("active", "pass"), ("unverified", "warn"), ("disabled", "fail")]
)
def test_the_domain_state_at_mailgun_decides_the_credentials_status(mail_settings, mailgun, state, status):
    mailgun.state = state

    found = _by_key(results(fresh=True))

    assert found["mail:configuration"].status == "pass"
    assert found["mail:credentials"].status == status
    assert found["mail:credentials"].observed_value == state
    assert mailgun.count("GET", f"/v4/domains/{mailgun.domain}") == 1


def test_a_refused_key_fails_and_never_shows(mail_settings, mailgun):
    mail_settings.MAILGUN_API_KEY = "key-revoked-0000"

    result = _by_key(results(fresh=True))["mail:credentials"]

    assert (result.status, result.observed_value) == ("fail", "unauthorized")
    assert "401" in result.output and "key-revoked-0000" not in result.output


def test_missing_keys_and_a_from_address_off_the_domain_fail(mail_settings):
    mail_settings.MAILGUN_WEBHOOK_SIGNING_KEY = ""
    mail_settings.DEFAULT_FROM_EMAIL = "noreply@elsewhere.example"

    result = _by_key(results())["mail:configuration"]

    assert result.status == "fail"
    assert "MAILGUN_WEBHOOK_SIGNING_KEY is not set" in result.output
    assert "not on the sender domain" in result.output


def test_production_with_the_console_backend_fails(settings):
    settings.PRODUCTION = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    settings.MAILGUN_API_KEY = ""

    result = _by_key(results())["mail:configuration"]

    assert result.status == "fail" and "not Mailgun" in result.output and "MAILGUN_API_KEY" in result.output


def test_the_answer_is_cached_for_the_ttl_and_an_unreachable_api_is_not(mail_settings, mailgun):
    assert credentials.current().state == "active"
    mailgun.state = "disabled"
    assert credentials.current().state == "active", "cached"
    assert mailgun.count("GET", "/v4/") == 1
    assert credentials.current(fresh=True).state == "disabled"

    mailgun.stop()
    mailgun.start()  # a new port: the cache key changes with the URL
    mail_settings.MAILGUN_API_URL = "http://127.0.0.1:9"  # nothing listens there
    verdict = credentials.current()
    assert (verdict.status, verdict.state) == ("fail", "unreachable")
    mail_settings.MAILGUN_API_URL = mailgun.url
    assert credentials.current().state == "disabled", "the failure was not cached"


def test_bounce_rate_warns_above_the_threshold(mail_settings):
    mail_settings.MAIL_BOUNCE_RATE_WARN = 5.0
    now = timezone.now()
    for n in range(10):
        OutboundMessage.objects.create(from_email="a@b.c", to=[f"u{n}@example.com"], subject="s", sent_at=now)
    MailEvent.objects.create(event_id="e1", event_type="bounced", recipient="u1@example.com", occurred_at=now)

    result = _by_key(results())["mail:bounceRate"]

    assert (result.status, result.observed_value, result.observed_unit) == ("warn", 10.0, "percent")


def test_the_check_runs_through_the_health_registry(mail_settings, mailgun):
    mailgun.state = "unverified"

    report = runner.run(checks_of("mail"), fresh=True)

    document = report.as_json(details=True)
    assert report.status == "warn"
    assert document["checks"]["mail:credentials"][0]["observedValue"] == "unverified"
    assert mailgun.key not in json.dumps(document)


def test_the_hourly_job_opens_and_resolves_the_credentials_alert(mail_settings, mailgun):
    mailgun.state = "disabled"
    assert refresh_credentials.apply().get() == "fail"
    assert Alert.objects.get(open_key="mail.credentials").source == "mailops"

    mailgun.state = "active"
    assert refresh_credentials.apply().get() == "pass"
    assert not Alert.objects.filter(open_key="mail.credentials").exists()


def test_mail_check_command_exit_codes_and_json(mailgun):
    mailgun.state = "disabled"
    failed = manage("mail_check", "--json", env=mail_env(mailgun))
    mailgun.state = "active"
    passed = manage("mail_check", env=mail_env(mailgun))

    assert failed.returncode == 1, failed.stderr
    document = json.loads(failed.stdout)
    assert document["status"] == "fail"
    assert document["checks"]["mail:credentials"][0]["observedValue"] == "disabled"
    assert passed.returncode == 0, passed.stderr
    assert re.search(r"^pass +mail:credentials .* active ", passed.stdout, re.MULTILINE), passed.stdout
    assert mailgun.key not in failed.stdout + passed.stdout + passed.stderr
