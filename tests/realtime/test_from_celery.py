"""realtime.broadcast() from a real Celery worker reaches websockets on a real server."""

import asyncio
import uuid

import pytest

from tests.realtime.support import PusherClient
from tests.realtime.tasks import broadcast_from_worker
from tests.support.celery_worker import celery_worker


@pytest.mark.django_db(transaction=True)
def test_a_worker_broadcasts_through_redis_to_the_websocket_server(server):
    channel = f"worker-news.{uuid.uuid4().hex}"

    async def subscribe():
        client = await PusherClient.connect(server.ws_url())
        await client.subscribe(channel)
        return client

    async def receive(client):
        message = await client.expect("worker.said", channel, timeout=10)
        await client.close()
        return message

    with celery_worker(include="tests.realtime.tasks"):
        loop = asyncio.new_event_loop()
        try:
            client = loop.run_until_complete(subscribe())
            event_id = broadcast_from_worker.delay(channel, 7).get(timeout=60)
            message = loop.run_until_complete(receive(client))
        finally:
            loop.close()
    assert message["data"] == {"n": 7, "event_id": event_id}
    assert message["event_id"] == event_id
