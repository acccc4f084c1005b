"""The mail event inbox: verified webhook events held in a Redis stream until a worker stores them.

Why: storing each event inside Mailgun's request cost the webhook a third of its throughput
(a durable INSERT per event, bench/webhook.py); workers storing them in batches cost a tenth
as much per event. A 200 from the webhook now means the event is in Redis, the broker that
already holds every queued task (AOF, `maxmemory-policy noeviction`: docs/RUNBOOK.md); when
Redis cannot take it, the webhook stores the event directly (mailops.recording.record).

The stream `STREAM` has one consumer group; each worker runs a `Drainer` (the `InboxDrain`
worker step) reading batches of up to MAIL_INBOX_BATCH entries at most every
MAIL_INBOX_INTERVAL seconds. A batch is stored in one transaction (mailops.recording.store_batch:
event ids unique, so Mailgun's retries and replays are stored once whichever path they took),
and only then acknowledged and deleted: a worker killed mid-batch leaves its entries pending;
restarted (same node name) it takes them back at once, and any other drainer claims them once
they have waited MAIL_INBOX_CLAIM_AFTER seconds. A batch
that fails is stored entry by entry; an entry that fails on its own becomes a
`mailops.store_event` task (the queue policy retries it, then leaves a FailedJob). While the
database is unreachable (a failure and no answer to SELECT 1) the entries simply wait.

Without Redis (the embedded profile) or with MAIL_INBOX off there is no inbox: `spool` says
so and the webhook stores each event itself.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass

from celery import bootsteps
from django.conf import settings
from django.db import close_old_connections, connection

from health.results import FAIL, PASS, WARN
from queueops.failed import UNREACHABLE

log = logging.getLogger(__name__)

STREAM = "mailops:inbox"
GROUP = "mailops"
FIELD = "event"
# A drainer whose database is unreachable tries again after this long.
UNREACHABLE_PAUSE = 2.0


def _client():
    """The Redis client of the shared store; None when there is no inbox."""
    if not settings.MAIL_INBOX:
        return None
    from keyvalue import redis_client

    return redis_client()


def enabled() -> bool:
    return _client() is not None


def spool(fields: dict) -> bool:
    """Append one event (mailops.recording.fields_of) to the inbox; False when it cannot."""
    client = _client()
    if client is None:
        return False
    try:
        client.xadd(STREAM, {FIELD: json.dumps(fields, separators=(",", ":"), ensure_ascii=False)})
    except Exception as error:  # Redis down or refusing writes: the caller stores it directly
        log.warning(
            "mail inbox unavailable (%s: %s); storing the event directly", type(error).__name__, error
        )
        return False
    return True


# --- reading it -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backlog:
    waiting: int  # entries not yet stored (new and pending)
    oldest_age: float | None  # seconds since the oldest waiting entry arrived
    pending: dict[str, int]  # consumer -> entries it read and has not acknowledged

    @property
    def level(self) -> str:
        """The health status of the oldest entry's age: FAIL past MAIL_INBOX_FAIL_AGE, WARN past
        MAIL_INBOX_WARN_AGE (the `mail:inbox` check, the dashboard, `mail_inbox status`)."""
        age = self.oldest_age or 0.0
        if age > settings.MAIL_INBOX_FAIL_AGE:
            return FAIL
        return WARN if age > settings.MAIL_INBOX_WARN_AGE else PASS


def backlog() -> Backlog:
    client = _client()
    if client is None:
        return Backlog(0, None, {})
    pipe = client.pipeline(transaction=False)
    pipe.xlen(STREAM)
    pipe.xrange(STREAM, count=1)
    waiting, first = pipe.execute()
    pending = {}
    if waiting:
        try:
            summary = client.xpending(STREAM, GROUP)
        except Exception:  # no group yet: no drainer has run
            summary = {}
        pending = {item["name"]: int(item["pending"]) for item in summary.get("consumers") or []}
    oldest = None
    if first:
        oldest = max(0.0, time.time() - int(first[0][0].split("-")[0]) / 1000)
    return Backlog(waiting, oldest, pending)


def _ensure_group(client) -> None:
    import redis

    try:
        client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except redis.ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


def consumer_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _read(client, consumer: str, count: int, block_ms: int | None):
    """Entries to store: this consumer's own unacknowledged ones first, then others' stale ones,
    then new ones (waiting up to block_ms for them)."""
    import redis

    for attempt in (1, 2):
        try:
            own = client.xreadgroup(GROUP, consumer, {STREAM: "0"}, count=count)
            entries = own[0][1] if own else []
            if not entries:
                claimed = client.xautoclaim(
                    STREAM, GROUP, consumer, int(settings.MAIL_INBOX_CLAIM_AFTER * 1000), "0-0", count=count
                )
                entries = claimed[1] if claimed else []
                if entries:
                    log.warning("mail inbox: claimed %d entries a stopped drainer had left", len(entries))
            if not entries:
                new = client.xreadgroup(GROUP, consumer, {STREAM: ">"}, count=count, block=block_ms)
                entries = new[0][1] if new else []
            return entries
        except redis.ResponseError as error:
            if "NOGROUP" not in str(error) or attempt == 2:
                raise
            _ensure_group(client)  # first run, or the stream was deleted
    return []


def _done(client, ids: list[str]) -> None:
    if ids:
        pipe = client.pipeline(transaction=False)
        pipe.xack(STREAM, GROUP, *ids)
        pipe.xdel(STREAM, *ids)
        pipe.execute()


def _database_answers() -> bool:
    """Whether the database takes a query now: an OperationalError can also be one event's own
    (a value the server refuses), which must not hold up the inbox as an outage would."""
    try:
        connection.close_if_unusable_or_obsolete()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except UNREACHABLE:
        return False
    return True


def drain_once(consumer: str | None = None, *, count: int | None = None, block_ms: int | None = None) -> int:
    """Store one batch from the inbox; returns how many entries it took care of (0: none waiting).

    Raises UNREACHABLE errors (database down) with the entries left pending for the next try.
    """
    from mailops import recording
    from mailops.tasks import store_event

    client = _client()
    if client is None:
        return 0
    consumer = consumer or consumer_name()
    entries = _read(client, consumer, count or settings.MAIL_INBOX_BATCH, block_ms)
    if not entries:
        return 0
    parsed: list[tuple[str, dict]] = []
    unreadable: list[str] = []
    for entry_id, data in entries:
        if not data:  # deleted while it was pending: nothing left to store
            unreadable.append(entry_id)
            continue
        try:
            parsed.append((entry_id, json.loads(data[FIELD])))
        except (TypeError, KeyError, ValueError):
            # Not written by `spool`: nothing to store; say what it was.
            log.error("mail inbox entry %s is not an event; dropped: %.500r", entry_id, data)
            unreadable.append(entry_id)
    try:
        recording.store_batch([recording.row_of(fields) for _, fields in parsed])
    except Exception as error:
        if isinstance(error, UNREACHABLE) and not _database_answers():
            _done(client, unreadable)
            raise
        log.warning(
            "mail inbox: a batch of %d failed (%s: %s); storing its events one by one",
            len(parsed),
            type(error).__name__,
            error,
        )
        for entry_id, fields in parsed:
            try:
                recording.store(fields)
            except Exception as one_error:
                if isinstance(one_error, UNREACHABLE) and not _database_answers():
                    raise
                # This event alone fails: the queue policy retries it, then keeps a FailedJob.
                store_event.delay(fields)
                log.error(
                    "mail inbox: event %s could not be stored (%s: %s); handed to mailops.store_event",
                    fields.get("event_id"),
                    type(one_error).__name__,
                    one_error,
                )
            _done(client, [entry_id])
    else:
        _done(client, [entry_id for entry_id, _ in parsed])
    _done(client, unreadable)
    return len(entries)


def drain_all(*, count: int | None = None) -> int:
    """Store everything waiting now (the `mail_inbox drain` command, tests); returns how many."""
    consumer = consumer_name()
    total = 0
    while taken := drain_once(consumer, count=count):
        total += taken
    client = _client()
    if client is not None and total:
        # This one-off consumer is done and holds nothing: leave the group as it was.
        client.xgroup_delconsumer(STREAM, GROUP, consumer)
    return total


class Drainer(threading.Thread):
    """A worker's inbox drain: a batch at most every MAIL_INBOX_INTERVAL s, until stopped."""

    def __init__(self, consumer: str):
        super().__init__(name="mail-inbox-drainer", daemon=True)
        self.stopping = threading.Event()
        # The worker's node name: a restarted worker takes back at once what it had read.
        self.consumer = consumer

    def run(self) -> None:
        interval = settings.MAIL_INBOX_INTERVAL
        # Waiting for new entries blocks in Redis no longer than this, so a stop is seen soon.
        block_ms = max(100, int(min(1.0, settings.REDIS_SOCKET_TIMEOUT / 2) * 1000))
        while not self.stopping.is_set():
            started = time.monotonic()
            close_old_connections()  # what Django does per request: drop broken or old connections
            try:
                taken = drain_once(self.consumer, block_ms=block_ms)
            except UNREACHABLE as error:
                log.warning("mail inbox: database unreachable (%s); retrying", type(error).__name__)
                self.stopping.wait(UNREACHABLE_PAUSE)
                continue
            except Exception as error:  # Redis down, say: the drainer must outlive it
                log.warning("mail inbox: drain failed (%s: %s); retrying", type(error).__name__, error)
                self.stopping.wait(UNREACHABLE_PAUSE)
                continue
            if taken:
                # Under load, wait out the interval: batches grow, and each costs one transaction.
                self.stopping.wait(max(0.0, interval - (time.monotonic() - started)))
        close_old_connections()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self.join(timeout)


class InboxDrain(bootsteps.StartStopStep):
    """Worker step: runs a `Drainer` while the worker runs (added by MailopsConfig.ready()).

    A thread of the worker's main process, started once the pool has forked its children (they
    do not inherit it); it needs no broker and no pool slot, so draining never waits behind tasks.
    """

    requires = ("celery.worker.components:Pool",)

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.drainer: Drainer | None = None

    def start(self, worker):
        if self.drainer is None and enabled():
            self.drainer = Drainer(worker.hostname)
            self.drainer.start()

    def stop(self, worker):
        if self.drainer is not None:
            self.drainer.stop()
            self.drainer = None

    shutdown = stop
