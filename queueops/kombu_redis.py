"""kombu's Redis transport where its public API stops: the names of a queue's Redis lists.

kombu keeps each queue as one Redis list per priority step (`Channel.priority_steps`, public) and
names them with `Channel._q_for_pri`, which is private. Nothing public peeks at a waiting message
(a passive `queue_declare` gives only the count), and queueops.broker reads the oldest message of
each list for the queue's wait, so this module is the one place that uses that name.
tests/queueops/test_kombu_redis.py pins the kombu version it was written against and checks the
names against a message kombu itself published: re-check both when kombu is upgraded.
"""

from __future__ import annotations

WRITTEN_AGAINST = "5.7.0"


def priority_lists(channel, queue: str) -> list[str]:
    """The Redis keys of `queue`'s lists on a kombu Redis `channel`, one per priority step."""
    return [channel._q_for_pri(queue, priority) for priority in channel.priority_steps]
