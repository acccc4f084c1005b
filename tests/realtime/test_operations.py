"""Operating the realtime service: Redis outages, SIGTERM, the health check, dropped messages."""

import asyncio
import base64
import json
import os
import signal
import socket
import uuid

import pytest
from django.conf import settings as django_settings

import keyvalue
from realtime import abroadcast, servers
from realtime.broadcasting import BroadcastError
from realtime.health_checks import realtime as realtime_check
from tests.realtime.support import PusherClient, asgi_server, http, own_redis, signed
from tests.support.processes import free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db


def layer_on(url: str, **config) -> dict:
    """CHANNEL_LAYERS for this test process pointing at another Redis (the same host options)."""
    layers = json.loads(json.dumps(django_settings.CHANNEL_LAYERS))
    [host] = layers["default"]["CONFIG"]["hosts"]
    layers["default"]["CONFIG"]["hosts"] = [{**host, "address": url}]
    layers["default"]["CONFIG"].update(config)
    return layers


def test_broadcasting_works_again_after_redis_restarts_without_restarting_the_server(settings):
    with own_redis() as (redis, port):
        url = f"redis://127.0.0.1:{port}/0"
        # Layer, heartbeat board and history on the Redis that restarts, as in production.
        settings.CHANNEL_LAYERS = layer_on(url)
        settings.REDIS_URL = url
        with asgi_server(REDIS_URL=url) as srv:

            async def before(client):
                await client.subscribe("ops-status")
                first = await abroadcast("ops-status", "status", {"n": 1})
                assert (await client.expect("status"))["event_id"] == first
                return first

            async def during(client):
                with pytest.raises(BroadcastError):
                    await abroadcast("ops-status", "status", {"n": "lost"})
                await client.send("pusher:ping")  # the websocket itself stays up
                await client.expect("pusher:pong")

            async def after(client, first):
                second = await abroadcast("ops-status", "status", {"n": 2})
                message = await client.expect("status")
                assert (message["data"]["n"], message["event_id"]) == (2, second)
                assert second > first, "ids keep increasing although Redis forgot the last one"
                newcomer = await PusherClient.connect(srv.ws_url())
                await newcomer.subscribe("ops-status")
                third = await abroadcast("ops-status", "status", {"n": 3})
                for each in (client, newcomer):
                    assert (await each.expect("status"))["event_id"] == third
                status, body = await asyncio.to_thread(
                    http, "GET", f"{srv.base}/broadcasting/history?channel=ops-status&after={first}"
                )
                assert status == 200
                assert [e["event_id"] for e in body["events"]] == [second, third]
                await newcomer.close()

            async def scenario():
                client = await PusherClient.connect(srv.ws_url())
                first = await before(client)
                # Taken before the kill: the server may log the outage before proc.wait returns.
                mark = len(srv.process.lines)
                redis.signal(signal.SIGKILL)
                redis.proc.wait(10)
                await during(client)
                await asyncio.to_thread(srv.process.wait_for_line, "channel layer unavailable", 20, mark)
                with own_redis(port):
                    await asyncio.to_thread(srv.process.wait_for_line, "channel layer back after", 30, mark)
                    await after(client, first)
                await client.close()

            asyncio.run(scenario())


def test_sigterm_tells_every_client_4200_and_the_server_exits():
    async def scenario(srv):
        plain = await PusherClient.connect(srv.ws_url())
        present = await PusherClient.connect(srv.ws_url())
        channel = f"presence-room.{uuid.uuid4().hex}"
        await present.subscribe(
            channel, **signed(present.socket_id, channel, {"user_id": "5", "user_info": {}})
        )
        srv.process.signal(signal.SIGTERM)
        for client in (plain, present):
            error = await client.expect("pusher:error", timeout=10)
            assert error["data"]["code"] == 4200
            assert await client.close_code() == 4200

    with asgi_server() as srv:
        asyncio.run(scenario(srv))
        # uvicorn re-raises the signal it handled once it has shut down.
        assert srv.process.proc.wait(15) in (0, -signal.SIGTERM)
        srv.process.wait_for_line(r"SIGTERM received; telling 2 client\(s\) to reconnect \(4200\)")
        srv.process.wait_for_line(r"Finished server process")


def test_health_check_round_trips_the_layer_and_counts_open_connections(server):
    async def open_clients(count):
        return [await PusherClient.connect(server.ws_url()) for _ in range(count)]

    def measured() -> dict:
        return {r.measurement: r for r in realtime_check()}

    async def scenario():
        baseline = (await asyncio.to_thread(measured))["connections"].observed_value
        clients = await open_clients(3)
        # The server reports its count with each heartbeat (every 0.5 s here).
        results = await asyncio.to_thread(
            wait_until,
            lambda: (found := measured())["connections"].observed_value == baseline + 3 and found,
            30,
            f"{baseline + 3} open connections in the check",
            0.1,
        )
        for client in clients:
            await client.close()
        return results

    results = asyncio.run(scenario())
    assert results["responseTime"].status == "pass"
    assert results["responseTime"].observed_unit == "ms" and results["responseTime"].observed_value > 0
    assert results["servers"].status == "pass" and results["servers"].observed_value >= 1


def test_health_check_fails_when_the_layer_is_down(settings):
    settings.CHANNEL_LAYERS = layer_on(f"redis://127.0.0.1:{free_port()}/0")
    [result] = realtime_check()
    assert result.status == "fail"
    assert "round trip failed" in result.output and "ConnectionError" in result.output


def test_health_check_fails_when_no_realtime_server_is_alive(settings):
    # A Redis of its own: the module's server (another test's) beats on the shared one meanwhile.
    with own_redis() as (_redis, port):
        url = f"redis://127.0.0.1:{port}/0"
        settings.CHANNEL_LAYERS = layer_on(url)
        settings.REDIS_URL = url
        results = {r.measurement: r for r in realtime_check()}
        assert results["responseTime"].status == "pass", "the layer itself answers"
        assert results["servers"].status == "fail"
        assert results["servers"].output.startswith("no realtime server is alive")

        servers.beat("gone-quiet", "specific.gone!quiet", 4)
        board = keyvalue.store().board(servers.BOARD)
        stale = json.loads(board["gone-quiet"])
        stale["seen"] -= servers.stale_after() + 1  # its last heartbeat is older than the limit
        keyvalue.store().board_put(servers.BOARD, "gone-quiet", json.dumps(stale))
        results = {r.measurement: r for r in realtime_check()}
        assert results["servers"].status == "fail", "a stale heartbeat is no live server"
        assert results["connections"].observed_value == 0
        keyvalue.store().delete(servers.BOARD)


def stuck_subscriber(port: int, channel: str) -> socket.socket:
    """A websocket, by hand over a socket with a tiny receive buffer, that never reads again."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /app/{django_settings.REALTIME_APP_KEY} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    assert response.startswith(b"HTTP/1.1 101"), response
    payload = json.dumps({"event": "pusher:subscribe", "data": {"channel": channel}}).encode()
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)  # one short, masked text frame
    # Read until the server confirms the subscription (its frames are small), then never again.
    sock.settimeout(30)
    received = b""
    while b"pusher_internal:subscription_succeeded" not in received:
        chunk = sock.recv(4096)
        assert chunk, f"the server closed the stuck subscriber: {received!r}"
        received += chunk
    return sock


def test_a_client_that_does_not_read_loses_broadcasts_not_the_server():
    payload = {"blob": "x" * 40_000}  # 200 of them overflow every socket buffer on the way

    async def scenario(srv):
        reader = await PusherClient.connect(srv.ws_url())
        await reader.subscribe("firehose")
        stuck = await asyncio.to_thread(stuck_subscriber, srv.port, "firehose")
        for _ in range(200):
            await abroadcast("firehose", "blob", payload)
            await reader.expect("blob")  # a reader that keeps up gets every one
        await reader.close()
        stuck.close()

    with asgi_server(REALTIME_SEND_QUEUE="5", REALTIME_DROP_LOG_INTERVAL="0.2") as srv:
        asyncio.run(scenario(srv))
        line = srv.process.wait_for_line(r"realtime dropped (\d+) message\(s\).*slow_client=", timeout=10)
        assert int(line.group(1)) > 0


def test_unknown_origins_are_refused_and_logged(server):
    async def scenario():
        allowed = await PusherClient.connect(server.ws_url(), origin="http://localhost:3000")
        await allowed.close()
        with pytest.raises(Exception) as refused:
            await PusherClient.connect(server.ws_url(), origin="https://evil.example")
        assert "403" in str(refused.value)

    asyncio.run(scenario())
    server.process.wait_for_line(r"refused websocket /app/\S+ from 127.0.0.1: origin 'https://evil.example'")
