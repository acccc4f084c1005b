"""The send API and its task: suppressed recipients dropped, Mailgun over real HTTP, a real worker."""

from __future__ import annotations

import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django_celery_results.models import TaskResult

from mailops import delivery, sending, tasks
from mailops.models import MailEvent, OutboundMessage
from mailops.sending import InvalidRecipient, send_mail
from mailops.suppression import suppress
from queueops.models import FailedJob
from tests.mailops.conftest import mail_env
from tests.support.celery_worker import celery_worker


@pytest.mark.django_db
def test_no_mail_goes_to_a_suppressed_address(mail_settings, mailgun):
    suppress("rita@example.com", "bounced", "webhook")
    message = send_mail(["RITA@Example.com"], "Hello", "Body")

    delivery.deliver(message.pk)

    message.refresh_from_db()
    assert message.status == "suppressed" and message.recipients == []
    assert mailgun.sent == [] and mailgun.count("POST", "/v3/") == 0
    event = MailEvent.objects.get(outbound=message)
    assert (event.event_type, event.recipient_key) == ("suppressed", "rita@example.com")

    delivery.deliver(message.pk)  # a redelivered task neither sends nor records twice
    assert MailEvent.objects.filter(outbound=message).count() == 1


@pytest.mark.django_db
def test_a_suppressed_event_is_counted_for_metrics_once(
    mail_settings, mailgun, django_capture_on_commit_callbacks
):
    """The send task's suppressed events reach /metrics' counter like the webhook's, once each."""
    from keyvalue import store
    from mailops.models import STORED_COUNTS

    suppress("rita@example.com", "bounced", "webhook")
    store().delete(STORED_COUNTS)
    message = send_mail(["rita@example.com"], "Hello", "Body")
    with django_capture_on_commit_callbacks(execute=True):
        delivery.deliver(message.pk)
        OutboundMessage.objects.filter(pk=message.pk).update(status="queued")  # as if it had crashed
        delivery.deliver(message.pk)
    assert MailEvent.objects.filter(outbound=message).count() == 1
    assert store().counts(STORED_COUNTS)[0].get("suppressed") == 1


@pytest.mark.django_db
def test_suppressed_recipients_are_dropped_and_the_rest_sent_through_mailgun(mail_settings, mailgun):
    suppress("rita@example.com", "complained", "webhook")
    message = send_mail(
        ["rita@example.com", "Sam <sam@example.com>"], "Ticket #4", "Body", html="<p>Body</p>"
    )

    delivery.deliver(message.pk)

    message.refresh_from_db()
    assert message.status == "sent" and message.recipients == ["Sam <sam@example.com>"]
    assert message.message_id.startswith("<") and message.message_id.endswith(f"@{mailgun.domain}>")
    [sent] = mailgun.sent
    assert sent.to == ["Sam <sam@example.com>"]
    assert sent.form["from"] == [f"Helpdesk <helpdesk@{mailgun.domain}>"]
    assert sent.variables() == {"outbound_id": str(message.pk)}, "webhooks can name the message"
    assert MailEvent.objects.filter(event_type="suppressed", recipient_key="rita@example.com").exists()


@pytest.mark.django_db
def test_a_refused_message_fails_permanently(mail_settings, mailgun):
    mailgun.fail_status["bad@example.com"] = 400
    message = send_mail(["bad@example.com"], "Hello", "Body")

    with pytest.raises(delivery.PermanentMailError, match="HTTP 400"):
        delivery.deliver(message.pk)

    message.refresh_from_db()
    assert "400" in message.error and mailgun.key not in message.error


@pytest.mark.django_db
@pytest.mark.parametrize("bad", [[], ["not an address"], ["ok@example.com", "also bad@"]])
def test_bad_recipients_are_refused_before_anything_is_stored(bad):
    with pytest.raises(InvalidRecipient):
        send_mail(bad, "Hello", "Body")
    assert not OutboundMessage.objects.exists()


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout} s")


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_and_a_final_failure_leaves_a_failed_job(mail_settings, mailgun, monkeypatch):
    for name, value in {**mail_env(mailgun), "QUEUE_TRIES": "2", "QUEUE_BACKOFF": "0.2"}.items():
        monkeypatch.setenv(name, value)
    mailgun.fail_status["down@example.com"] = 503  # Mailgun failing for this one, every time

    with celery_worker() as worker:
        ok = send_mail(["rita@example.com"], "Works", "Body", kind="test")
        broken = send_mail(["down@example.com"], "Fails", "Body", kind="test")
        _wait(
            lambda: OutboundMessage.objects.filter(status__in=["sent", "failed"]).count() == 2,
            60,
            f"both messages settled\n{worker.output[-3000:]}",
        )

    ok.refresh_from_db()
    broken.refresh_from_db()
    assert ok.status == "sent" and ok.message_id and ok.attempts == 1
    assert broken.status == "failed" and "503" in broken.error and broken.attempts == 2
    job = FailedJob.objects.get(task="mailops.send_message")
    assert job.task_id == broken.task_id and job.args == [broken.pk] and job.attempts == 2
    assert [s.to for s in mailgun.sent] == [["rita@example.com"]]
    assert mailgun.key not in worker.output


@pytest.mark.django_db
def test_a_message_the_broker_refused_stays_pending_until_republished(monkeypatch):
    published = []

    def broker(*args, task_id, **kwargs):
        if not getattr(broker, "up", False):
            raise ConnectionRefusedError("broker down")
        published.append(task_id)

    monkeypatch.setattr(sending, "current_app", SimpleNamespace(send_task=broker))
    message = send_mail(["rita@example.com"], "Hello", "Body")
    assert sending.enqueue(message) is False
    message.refresh_from_db()
    assert (message.status, message.task_id) == ("queued", "")
    assert sending.republish_pending() == 0, "not a minute old yet: its own publish may still come"

    broker.up = True
    assert sending.republish_pending(after=timedelta(0)) == 1
    message.refresh_from_db()
    assert message.task_id == published[0]
    assert sending.republish_pending(after=timedelta(0)) == 0, "published: no longer pending"


@pytest.mark.django_db
def test_only_the_publish_the_row_names_sends(mail_settings, mailgun):
    message = send_mail(["rita@example.com"], "Hello", "Body")

    assert delivery.deliver(message.pk, task_id="first").status == "sent"
    assert delivery.deliver(message.pk, task_id="second").task_id == "first"
    assert [s.to for s in mailgun.sent] == [["rita@example.com"]]


@pytest.mark.django_db(transaction=True)
def test_a_message_published_twice_is_sent_once_by_real_workers(mail_settings, mailgun, monkeypatch):
    for name, value in mail_env(mailgun).items():
        monkeypatch.setenv(name, value)
    with celery_worker() as worker:
        message = send_mail(["rita@example.com"], "Twice", "Body")
        message.refresh_from_db()
        tasks.send_message.apply_async(args=[message.pk], task_id="a-second-publish")
        _wait(
            lambda: (
                TaskResult.objects.filter(
                    task_id__in=[message.task_id, "a-second-publish"], status="SUCCESS"
                ).count()
                == 2
            ),
            60,
            f"both publishes ran\n{worker.output[-3000:]}",
        )
    assert [s.to for s in mailgun.sent] == [["rita@example.com"]]
