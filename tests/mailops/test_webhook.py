"""The tracking webhook over real HTTP (Django's live server) with Mailgun-signed posts.

Each test runs twice: through the task (the production path: the webhook publishes
`mailops.store_event`; here Celery runs it eagerly, in the web's thread, so a test reads the
outcome as soon as the answer comes) and directly (the webhook stores the event itself, as when
the broker cannot take it: publishing is made to fail the way kombu reports an unreachable broker).
tests/mailops/test_webhook_tasks.py has the path through a real broker and real workers.
"""

from __future__ import annotations

import json
import time

import pytest
from kombu.exceptions import OperationalError as BrokerError

from mailops import suppression
from mailops.models import MailEvent, OutboundMessage, Suppression
from mailops.tasks import store_event
from opsproject.celery import app
from tests.mailops import signing
from tests.mailops.signing import SIGNING_KEY, payload, signature

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True, params=["task", "direct"])
def store_path(request, monkeypatch) -> str:
    if request.param == "task":
        monkeypatch.setitem(app.conf, "task_always_eager", True)
    else:

        def unreachable(*args, **kwargs):
            raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

        monkeypatch.setattr(store_event, "apply_async", unreachable)
    return request.param


post = signing.post


@pytest.mark.parametrize(
    ("kind", "stored_type", "reason"),
    [
        ("delivered", "delivered", None),
        ("opened", "opened", None),
        ("permanent_failure", "bounced", "bounced"),
        ("complained", "complained", "complained"),
        ("unsubscribed", "unsubscribed", "unsubscribed"),
        ("temporary_failure", "deferred", None),
    ],
)
def test_each_kind_is_stored_and_suppresses_only_when_it_should(webhook_url, kind, stored_type, reason):
    status, _ = post(webhook_url, payload(kind, "Rita@Example.COM"))

    assert status == 200
    event = MailEvent.objects.get()
    assert (event.event_type, event.recipient_key) == (stored_type, "rita@example.com")
    assert event.payload["recipient"] == "Rita@Example.COM"
    if reason:
        row = Suppression.objects.get()
        assert (row.reason, row.source, row.event_id) == (reason, "webhook", event.pk)
        assert suppression.suppressed_keys(["rita@example.com"]), "compared case-insensitively"
    else:
        assert not Suppression.objects.exists()


def test_temporary_failures_suppress_once_the_limit_falls_within_the_window(webhook_url, settings):
    settings.MAIL_SOFT_BOUNCE_LIMIT = 3
    settings.MAIL_SOFT_BOUNCE_WINDOW = 3600
    now = time.time()
    # One old failure outside the window does not count towards the limit.
    for occurred in (now - 7200, now - 60, now - 30):
        assert (
            post(webhook_url, payload("temporary_failure", "sam@example.com", occurred_at=occurred))[0] == 200
        )
    assert not Suppression.objects.exists()

    assert post(webhook_url, payload("temporary_failure", "SAM@example.com", occurred_at=now))[0] == 200

    row = Suppression.objects.get()
    assert (row.address_key, row.reason) == ("sam@example.com", "soft_bounced")
    assert MailEvent.objects.filter(event_type="deferred").count() == 4


def test_a_replayed_event_is_answered_200_and_stored_once(webhook_url):
    body = payload("permanent_failure", "rita@example.com")

    answers = [post(webhook_url, body)[0] for _ in range(3)]

    assert answers == [200, 200, 200]
    assert MailEvent.objects.count() == 1
    assert Suppression.objects.count() == 1


def test_an_event_is_linked_to_the_message_it_is_about(webhook_url):
    by_variable = OutboundMessage.objects.create(
        from_email="a@mg.example.com", to=["x@example.com"], subject="1"
    )
    by_id = OutboundMessage.objects.create(
        from_email="a@mg.example.com", to=["y@example.com"], subject="2", message_id="<77.abc@mg.example.com>"
    )

    post(webhook_url, payload("delivered", "x@example.com", variables={"outbound_id": str(by_variable.pk)}))
    post(webhook_url, payload("opened", "y@example.com", message_id="77.abc@mg.example.com"))

    assert MailEvent.objects.get(recipient="x@example.com").outbound == by_variable
    assert MailEvent.objects.get(recipient="y@example.com").outbound == by_id

    # A message deleted since (or an id that never was): the event is kept, unlinked.
    status, _ = post(
        webhook_url, payload("permanent_failure", "z@example.com", variables={"outbound_id": "999999"})
    )
    assert status == 200
    assert MailEvent.objects.get(recipient="z@example.com").outbound is None
    assert Suppression.objects.filter(address_key="z@example.com").exists()

    # Ids no key column holds (past BIGINT, not positive): the same, not a DataError that would
    # leave the event unstored (a FailedJob, or a 500 Mailgun retries for ever on the direct path).
    for n, hostile in enumerate(["99999999999999999999999", "-5", "0"]):
        address = f"w{n}@example.com"
        status, _ = post(webhook_url, payload("delivered", address, variables={"outbound_id": hostile}))
        assert status == 200, hostile
        assert MailEvent.objects.get(recipient=address).outbound is None


def _bad_posts():
    good = payload("permanent_failure", "rita@example.com")
    forged = json.loads(json.dumps(good))
    forged["signature"]["signature"] = "0" * 64
    wrong_key = payload("permanent_failure", "rita@example.com", key="not-the-signing-key")
    expired = payload("permanent_failure", "rita@example.com", signed_at=time.time() - 25 * 3600)
    future = payload("permanent_failure", "rita@example.com", signed_at=time.time() + 3600)
    no_event = json.loads(json.dumps(good))
    del no_event["event-data"]["event"]
    no_recipient = json.loads(json.dumps(good))
    del no_recipient["event-data"]["recipient"]
    no_data = {"signature": good["signature"]}
    numeric_recipient = json.loads(json.dumps(good))
    numeric_recipient["event-data"]["recipient"] = 42
    listed_variables = json.loads(json.dumps(good))
    listed_variables["event-data"]["user-variables"] = ["outbound_id", 1]
    long_token = payload("delivered", "rita@example.com", token="t" * 300)
    bad_time = json.loads(json.dumps(good))
    bad_time["event-data"]["timestamp"] = "yesterday"
    far_time = json.loads(json.dumps(good))
    far_time["event-data"]["timestamp"] = 10**400
    # Not past a float, but past the platform's time_t: fromtimestamp raises OSError (EOVERFLOW).
    time_t_overflow = json.loads(json.dumps(good))
    time_t_overflow["event-data"]["timestamp"] = 10**18
    no_signature = {"event-data": good["event-data"]}
    lone_surrogate = json.loads(json.dumps(good))
    lone_surrogate["event-data"]["recipient-domain"] = "example.com\ud800"
    not_a_number = json.loads(json.dumps(good))
    not_a_number["event-data"]["delivery-status"]["code"] = float("nan")
    numeric_description = json.loads(json.dumps(good))
    numeric_description["event-data"]["delivery-status"]["description"] = 550
    signed_at_infinity = payload("delivered", "rita@example.com", token="t" * 50)
    signed_at_infinity["signature"] = {"timestamp": "-inf", "token": "t" * 50}
    signed_at_infinity["signature"]["signature"] = signature(SIGNING_KEY, "-inf", "t" * 50)
    signed_at_nan = json.loads(json.dumps(signed_at_infinity))
    signed_at_nan["signature"].update(timestamp="nan", signature=signature(SIGNING_KEY, "nan", "t" * 50))
    too_deep, deep_for_the_encoder = json.loads(json.dumps(good)), json.loads(json.dumps(good))
    too_deep["event-data"]["extra"] = json.loads("[" * 31 + "]" * 31)  # 32 levels with event-data's
    deep_for_the_encoder["event-data"]["extra"] = json.loads("[" * 920 + "]" * 920)
    non_ascii_timestamp = json.loads(json.dumps(good))
    non_ascii_timestamp["signature"]["timestamp"] = "\U0001f600"
    return [
        ("forged signature", forged, "application/json"),
        ("signed with another key", wrong_key, "application/json"),
        ("expired", expired, "application/json"),
        ("from the future", future, "application/json"),
        ("no event field", no_event, "application/json"),
        ("no recipient", no_recipient, "application/json"),
        ("no event-data", no_data, "application/json"),
        ("recipient not text", numeric_recipient, "application/json"),
        ("user-variables not an object", listed_variables, "application/json"),
        ("token too long to store", long_token, "application/json"),
        ("event time not a number", bad_time, "application/json"),
        ("event time past any date", far_time, "application/json"),
        ("event time past time_t", time_t_overflow, "application/json"),
        ("no signature", no_signature, "application/json"),
        ("a lone surrogate in event data", lone_surrogate, "application/json"),
        ("NaN in event data", not_a_number, "application/json"),
        ("bounce description not text", numeric_description, "application/json"),
        ("signed at minus infinity", signed_at_infinity, "application/json"),
        ("signed at NaN", signed_at_nan, "application/json"),
        ("signature timestamp not ASCII", non_ascii_timestamp, "application/json"),
        ("event data nested deeper than MariaDB's JSON allows", too_deep, "application/json"),
        ("event data deep enough to exhaust the task encoder", deep_for_the_encoder, "application/json"),
        (
            "form token not ASCII",
            b"token=%F0%9F%98%80&timestamp=1&signature=x",
            "application/x-www-form-urlencoded",
        ),
        ("not JSON", b"{not json", "application/json"),
        ("JSON nested too deep to parse", b"[" * 100_000 + b"]" * 100_000, "application/json"),
        ("a JSON list", [1, 2], "application/json"),
        ("signature of the wrong shape", {"signature": ["x"], "event-data": {}}, "application/json"),
        ("plain text", b"hello", "text/plain"),
        ("form without signature", b"event=bounced&recipient=a%40b.c", "application/x-www-form-urlencoded"),
    ]


@pytest.mark.parametrize(
    ("why", "body", "content_type"), _bad_posts(), ids=[case[0] for case in _bad_posts()]
)
def test_bad_posts_get_a_one_line_400_and_nothing_is_stored(webhook_url, why, body, content_type):
    status, text = post(webhook_url, body, content_type=content_type)

    assert status == 400, (why, text)
    assert text.count("\n") == 1 and "Traceback" not in text
    assert not MailEvent.objects.exists()
    assert not Suppression.objects.exists()


def _unsigned_posts():
    """Bodies of every shape, none correctly signed: each must get the same answer."""
    good = payload("permanent_failure", "rita@example.com")

    def forged(**changes):
        body = json.loads(json.dumps(good))
        body["signature"]["signature"] = "0" * 64
        body["event-data"].update(changes)
        return body

    no_data = forged()
    del no_data["event-data"]
    non_ascii = forged()
    non_ascii["signature"]["timestamp"] = "\U0001f600"
    return [
        ("forged, well formed", forged(), "application/json"),
        ("forged, no event-data", no_data, "application/json"),
        ("forged, recipient not text", forged(recipient=42), "application/json"),
        ("forged, too deep to store", forged(extra=json.loads("[" * 40 + "]" * 40)), "application/json"),
        ("forged, NaN", forged(extra=float("nan")), "application/json"),
        ("forged, expired", payload("delivered", "a@example.com", key="x", signed_at=0), "application/json"),
        ("another key", payload("delivered", "rita@example.com", key="not-the-key"), "application/json"),
        ("signature timestamp not ASCII", non_ascii, "application/json"),
        ("no signature", {"event-data": good["event-data"]}, "application/json"),
        ("signature of the wrong shape", {"signature": ["x"], "event-data": {}}, "application/json"),
        ("a JSON list", [1, 2], "application/json"),
        ("not JSON", b"{not json", "application/json"),
        ("JSON nested too deep to parse", b"[" * 100_000 + b"]" * 100_000, "application/json"),
        ("plain text", b"hello", "text/plain"),
        ("form without signature", b"event=bounced&recipient=a%40b.c", "application/x-www-form-urlencoded"),
        (
            "form token not ASCII",
            b"token=%F0%9F%98%80&timestamp=1&signature=x",
            "application/x-www-form-urlencoded",
        ),
        # What Django itself refuses to read (it would answer its HTML 400 page).
        ("multipart without a boundary", b"x", "multipart/form-data"),
        ("multipart with a non-ASCII boundary", b"x", "multipart/form-data; boundary=\u00e9"),
        (
            "form past DATA_UPLOAD_MAX_NUMBER_FIELDS",
            "&".join(f"f{n}=1" for n in range(1500)).encode(),
            "application/x-www-form-urlencoded",
        ),
        (
            "past DATA_UPLOAD_MAX_MEMORY_SIZE",
            json.dumps({**forged(), "pad": "x" * 3_000_000}).encode(),
            "application/json",
        ),
    ]


def test_a_request_not_correctly_signed_gets_one_answer_whatever_its_body(webhook_url):
    """The signature is verified before the payload's shape: an unauthenticated caller learns
    nothing of the checks behind it."""
    answers = {why: post(webhook_url, body, content_type=kind) for why, body, kind in _unsigned_posts()}

    assert set(answers.values()) == {
        (400, "Mailgun webhook called with a missing or incorrect signature\n")
    }, answers
    assert not MailEvent.objects.exists()


# Stored in the request only on the direct path; a worker dying mid-store is test_webhook_tasks'.
@pytest.mark.parametrize("store_path", ["direct"], indirect=True)
def test_a_crash_in_the_receiver_gives_5xx_and_the_retry_is_processed_once(webhook_url, monkeypatch):
    real_apply = suppression.apply
    crashes = []

    def crash_once(event):
        if not crashes:
            crashes.append(event.event_id)
            raise RuntimeError("database went away mid-event")
        return real_apply(event)

    monkeypatch.setattr(suppression, "apply", crash_once)
    body = payload("complained", "rita@example.com")

    first, _ = post(webhook_url, body)
    assert first == 500
    assert not MailEvent.objects.exists(), "the half-stored event was rolled back"

    second, _ = post(webhook_url, body)
    third, _ = post(webhook_url, body)
    assert (second, third) == (200, 200)
    assert MailEvent.objects.count() == 1
    assert Suppression.objects.get().reason == "complained"


def test_basic_auth_is_required_when_webhook_secret_is_set(webhook_url, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "mailgun:hook-pass-123"}
    body = payload("delivered", "rita@example.com")

    refused, text = post(webhook_url, body)
    accepted, _ = post(webhook_url, body, headers={"Authorization": "Basic bWFpbGd1bjpob29rLXBhc3MtMTIz"})

    assert (refused, accepted) == (400, 200)
    assert text.startswith("Missing or invalid basic auth"), text  # said before the signature is
    assert MailEvent.objects.count() == 1


def test_without_a_signing_key_the_webhook_answers_503(webhook_url, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "MAILGUN_WEBHOOK_SIGNING_KEY": None, "MAILGUN_API_KEY": None}

    status, text = post(webhook_url, payload("delivered", "rita@example.com"))

    assert status == 503 and "MAILGUN_WEBHOOK_SIGNING_KEY" in text
    assert not MailEvent.objects.exists()


def test_during_a_rotation_posts_signed_with_the_previous_key_are_accepted(webhook_url, settings):
    new_key = "new-signing-key-Qw8Er5Ty2Ui9Op4As7Df"
    settings.ANYMAIL = {**settings.ANYMAIL, "MAILGUN_WEBHOOK_SIGNING_KEY": new_key}
    settings.MAILGUN_WEBHOOK_SIGNING_KEY = new_key
    settings.MAILGUN_WEBHOOK_SIGNING_KEY_PREVIOUS = SIGNING_KEY
    assert post(webhook_url, payload("delivered", "old@example.com", key=SIGNING_KEY))[0] == 200
    assert post(webhook_url, payload("delivered", "new@example.com", key=new_key))[0] == 200
    status, text = post(
        webhook_url, payload("delivered", "forged@example.com", key="some-other-key-entirely")
    )
    assert status == 400 and "incorrect signature" in text
    settings.MAILGUN_WEBHOOK_SIGNING_KEY_PREVIOUS = ""
    assert post(webhook_url, payload("delivered", "late@example.com", key=SIGNING_KEY))[0] == 400
    assert sorted(MailEvent.objects.values_list("recipient_key", flat=True)) == [
        "new@example.com",
        "old@example.com",
    ]


def test_an_address_whose_lower_case_is_longer_is_stored_all_the_same(webhook_url):
    # "İ".lower() is two characters: the compared form (recipient_key, address_key) outgrows the
    # address, past the key columns (320, 254), which would be a DataError and no event stored.
    delivered_to = "İ" * 300 + "@example.com"
    bounced_from = "İ" * 200 + "@example.com"
    assert post(webhook_url, payload("delivered", delivered_to))[0] == 200
    assert post(webhook_url, payload("permanent_failure", bounced_from))[0] == 200
    assert MailEvent.objects.filter(event_type="delivered").count() == 1
    assert MailEvent.objects.filter(event_type="bounced").count() == 1
