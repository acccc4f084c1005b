"""10,000 generated posts at the Mailgun webhook, over real HTTP: no 5xx, nothing unsigned stored.

The posts (tests/reliability/fuzz_mailgun.py, one seeded generator) mix random bytes and JSON,
real signed payloads with their event data mangled (fields deleted, types changed, huge values,
odd unicode, legacy form posts), forged signatures, stale and odd timestamps, first deliveries
and byte-for-byte replays. Every answer must be below 500 (refused posts a 4xx, valid ones 200);
the MailEvent and Suppression counts, read every 25 posts once the store tasks the webhook
published are run as a worker would, may grow only by what those posts were allowed to store, and at the
end each stored event is traced by its token to the one post allowed to store it: nothing from
a refused post, each valid event once however often it was replayed.

Why a seeded generator and not hypothesis here: the webhook is stateful (replays depend on what
was stored before), so hypothesis could not shrink a failure without replaying its history, and
its per-example machinery would only add time; the seed and case number reproduce a failure.

Why real HTTP, and through gunicorn's WSGI worker: measured on this 2-core box while other suites
ran, a trivial refused post took 2.2 ms through the Django test Client in-process, 2.8 ms over
real HTTP to gunicorn (gthread, keep-alive) and 16 ms to uvicorn (Django's ASGI handler: its
thread hops per request, not the network). Real HTTP costs nearly nothing over the Client, so the
posts go over a socket to a server process with the whole middleware stack, like Mailgun's would;
uvicorn would have taken several times as long. The ASGI door is the same view; the realtime
fuzz covers the ASGI server itself. The whole file took 97 s at a load average of 4.5 and
230-245 s at 10-12 (other suites sharing the 2 cores): it is CPU-bound, about 10 ms a post.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
from django.db import connection

from mailops.models import MailEvent, Suppression
from opsproject.celery import app
from tests.mailops.conftest import WEBHOOK_PATH
from tests.mailops.queued import run_store_events
from tests.mailops.signing import SIGNING_KEY
from tests.reliability.fuzz_http import KeepAliveClient, gunicorn_server, unexpected_tracebacks
from tests.reliability.fuzz_mailgun import REFUSE, REPLAY, SIGNED, STORE, MailgunFuzzer

pytestmark = pytest.mark.django_db(transaction=True)

SEED = 20261201
POSTS = 10_000


@pytest.fixture(scope="module")
def webhook_server(django_db_setup, django_db_blocker):
    env = {"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY, "MAIL_WEBHOOK_MAX_AGE": str(24 * 3600)}
    # As in production: no query log kept per request, and only errors logged (7,000 refusals
    # would write 14,000 warning lines); a 500 is still logged, with its traceback.
    env.update(DEBUG="false", LOG_LEVEL="ERROR")
    with gunicorn_server(**env) as server:
        yield server


def stored_counts() -> tuple[int, int]:
    """(MailEvent rows, Suppression rows) in one round trip."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT COUNT(*) FROM {MailEvent._meta.db_table}),"
            f" (SELECT COUNT(*) FROM {Suppression._meta.db_table})"
        )
        return cursor.fetchone()


# Django answers these bad bodies 400 itself and logs why through its security and request loggers,
# traceback included: expected, unlike any other traceback.
EXPECTED_BEFORE_TRACEBACK = (
    "Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.",
    "Bad request (Unable to parse request body)",
)


class Ledger:
    """What the posts may store, checked against what they stored.

    Each answer is checked at once; the stored counts after every BATCH posts (a count query per
    post would cost a fifth of the run). Counts only grow, so a batch that may add nothing and
    added nothing proves each of its posts added nothing; at the end each stored event is traced
    back by its token to the one post allowed to store it.
    """

    BATCH = 25

    def __init__(self):
        self.counts = stored_counts()
        self.batch: list[tuple] = []
        self.allowed: set[str] = set()  # tokens of posts that may have stored their event
        self.refused: set[str] = set()  # tokens of posts that must not have
        self.statuses: Counter = Counter()

    def check(self, post, status: int) -> None:
        self.statuses[status] += 1
        what = f"{post.describe()} -> {status}"
        if post.expect == REFUSE:
            assert 400 <= status < 500, what
            if post.token:
                self.refused.add(post.token)
        elif post.expect in (STORE, REPLAY):
            assert status == 200, what
        if post.expect == STORE or (post.expect == SIGNED and status == 200):
            self.allowed.add(post.token)
        self.batch.append((post, status))
        if len(self.batch) >= self.BATCH:
            self.check_batch()

    def check_batch(self) -> None:
        run_store_events()  # what the workers do with the events the webhook accepted
        events, suppressions = counts = stored_counts()
        new_events, new_suppressions = events - self.counts[0], suppressions - self.counts[1]
        self.counts = counts
        first = sum(1 for post, _ in self.batch if post.expect == STORE)
        maybe = sum(1 for post, status in self.batch if post.expect == SIGNED and status == 200)
        what = "\n".join(f"{post.describe()} -> {status}" for post, status in self.batch)
        assert first <= new_events <= first + maybe, f"{new_events} new events from:\n{what}"
        assert new_suppressions <= new_events, f"{new_suppressions} new suppressions from:\n{what}"
        self.batch.clear()


def test_ten_thousand_generated_posts_give_no_5xx_and_store_only_signed_events_once(webhook_server):
    app.control.purge()  # the production path: accepted events go through the broker
    client = KeepAliveClient(webhook_server.port)
    ledger = Ledger()
    started = time.monotonic()
    fuzzer = MailgunFuzzer(SEED)
    spent: Counter = Counter()
    try:
        for post in fuzzer.posts(POSTS):
            sent = time.monotonic()
            status, _ = client.post(WEBHOOK_PATH, post.body, post.content_type)
            spent[post.kind] += time.monotonic() - sent
            if status >= 500:
                pytest.fail(f"{post.describe()} -> {status}:\n{webhook_server.process.output[-3000:]}")
            ledger.check(post, status)
    finally:
        client.close()
    seconds = time.monotonic() - started

    ledger.check_batch()
    assert run_store_events() == 0

    # Each valid event is stored once, under its token, however often it was replayed; nothing
    # is stored under a token only a refused post carried, nor under any token no post was allowed.
    delivered = {post.token for post in fuzzer.delivered}
    stored = list(MailEvent.objects.values_list("event_id", flat=True))
    assert len(stored) == len(set(stored))
    assert delivered <= set(stored) <= ledger.allowed
    assert not set(stored) & ledger.refused
    assert not Suppression.objects.exclude(event__event_id__in=stored).exists()
    assert sum(ledger.statuses.values()) == POSTS
    print(f"{POSTS} posts in {seconds:.1f} s; statuses {sorted(ledger.statuses.items())}; {spent}")
    unexpected = unexpected_tracebacks(webhook_server.process.lines, EXPECTED_BEFORE_TRACEBACK)
    assert not unexpected, "\n\n".join(unexpected[:3])
