"""During a REALTIME_APP_SECRET rotation a real server accepts authorizations signed with either."""

import asyncio

import pytest

from realtime import protocol
from tests.realtime.support import KEY, PusherClient, asgi_server

pytestmark = pytest.mark.django_db

OLD = "old-realtime-secret-Mq4Zt8Wx1Ck6Vn3Bp9"
NEW = "new-realtime-secret-Ly7Rd2Hs5Gf0Jq8Tu3"


def _auth(socket_id: str, channel: str, secret: str) -> str:
    return f"{KEY}:{protocol.signature(socket_id, channel, secret=secret)}"


def _outcomes(server, secrets: list[str]) -> list[str]:
    async def scenario():
        client = await PusherClient.connect(server.ws_url())
        answers = []
        for number, secret in enumerate(secrets):
            channel = f"private-rotation.{number}"
            answers.append(
                (await client.subscribe(channel, auth=_auth(client.socket_id, channel, secret)))["event"]
            )
        await client.close()
        return answers

    return asyncio.run(scenario())


def test_both_secrets_are_accepted_while_the_previous_one_is_set():
    with asgi_server(REALTIME_APP_SECRET=NEW, REALTIME_APP_SECRET_PREVIOUS=OLD) as server:
        outcomes = _outcomes(server, [OLD, NEW, "never-configured-secret-Aa1Bb2Cc3Dd4"])
    assert outcomes == ["pusher_internal:subscription_succeeded"] * 2 + ["pusher:error"]


def test_after_the_rotation_the_old_secret_is_refused():
    with asgi_server(REALTIME_APP_SECRET=NEW, REALTIME_APP_SECRET_PREVIOUS="") as server:
        outcomes = _outcomes(server, [OLD, NEW])
    assert outcomes == ["pusher:error", "pusher_internal:subscription_succeeded"]
