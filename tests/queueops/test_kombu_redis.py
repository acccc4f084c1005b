"""queueops.kombu_redis, the one use of a kombu private: pinned to the kombu it was written against."""

from __future__ import annotations

import kombu
import pytest
from django.conf import settings
from kombu import Connection, Exchange, Queue

from queueops.kombu_redis import WRITTEN_AGAINST, priority_lists

QUEUE = "qo_kombu_lists"


def test_kombu_is_the_version_the_adapter_was_written_against():
    assert kombu.__version__ == WRITTEN_AGAINST, (
        f"kombu {kombu.__version__}: check queueops/kombu_redis.py (Channel._q_for_pri, priority_steps) "
        "against it, then set WRITTEN_AGAINST"
    )


@pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis transport needs Redis")
def test_a_message_kombu_publishes_lands_in_one_of_the_named_lists():
    with Connection(settings.REDIS_URL) as conn:
        channel = conn.default_channel
        lists = priority_lists(channel, QUEUE)
        channel.client.delete(*lists)
        queue = Queue(QUEUE, Exchange(QUEUE), routing_key=QUEUE)
        try:
            for priority in (0, 6):
                conn.Producer().publish(
                    {"n": priority},
                    exchange=queue.exchange,
                    routing_key=QUEUE,
                    declare=[queue],
                    priority=priority,
                )
            lengths = [channel.client.llen(name) for name in lists]
            assert sum(lengths) == 2 and lengths.count(1) == 2, dict(zip(lists, lengths, strict=True))
        finally:
            channel.client.delete(*lists)
