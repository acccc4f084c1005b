"""Every command that starts a server caps websocket messages at REALTIME_MAX_MESSAGE_BYTES.

(And every realtime server command turns permessage-deflate off: see the last test.)

The compose services' own command lines run here (gunicorn with the project's uvicorn worker
for web, uvicorn for realtime), and a real client sends one message at the limit and one a
byte over it; the Procfile and the image's default command are read for the same flag.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket

import pytest
from django.conf import settings

from tests.deploy.compose_file import services
from tests.realtime.support import PusherClient
from tests.security.test_websocket_limits import ping_of
from tests.support.celery_worker import child_env
from tests.support.processes import BIN, REPO, free_port, running
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db

SIZE = 10240  # the documented default of REALTIME_MAX_MESSAGE_BYTES


def test_the_setting_defaults_to_pushers_10_kb():
    assert settings.REALTIME_MAX_MESSAGE_BYTES == SIZE


def accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def local(argv: list[str], port: int) -> list[str]:
    """A compose command as it runs here: our venv's executables, our port, one worker."""
    out = [re.sub(r"(0\.0\.0\.0:|=)(8000|8080)$", rf"\g<1>{port}", arg) for arg in argv]
    out = [arg.replace("0.0.0.0", "127.0.0.1") for arg in out if not arg.startswith("--workers=")]
    return [str(BIN / out[0]), *out[1:]]


@pytest.mark.parametrize("name", ["web", "realtime"])
def test_the_compose_server_closes_a_websocket_message_over_the_limit(name):
    port = free_port()
    argv = local(services()[name]["command"], port)
    assert any(str(port) in arg for arg in argv), argv

    async def scenario():
        client = await PusherClient.connect(
            f"ws://127.0.0.1:{port}/app/{settings.REALTIME_APP_KEY}?protocol=7"
        )
        await client.ws.send(ping_of(SIZE))
        await client.expect("pusher:pong")
        await client.ws.send(ping_of(SIZE + 1))
        return await client.close_code()

    with running(argv, env=child_env()) as server:
        wait_until(lambda: accepts(port), 60, f"{name} listens", explain=lambda: server.output[-3000:])
        assert asyncio.run(scenario()) == 1009, server.output[-3000:]


def test_the_procfile_and_the_image_start_servers_with_the_cap():
    procfile = (REPO / "Procfile").read_text()
    web = next(line for line in procfile.splitlines() if line.startswith("web:"))
    assert "--ws-max-size ${REALTIME_MAX_MESSAGE_BYTES:-10240}" in web
    dockerfile = (REPO / "compose" / "Dockerfile").read_text()
    cmd = next(line for line in dockerfile.splitlines() if line.startswith("CMD"))
    assert "opsproject.uvicorn_worker.UvicornWorker" in cmd
    assert f"--ws-max-size={SIZE}" in services()["realtime"]["command"]


@pytest.mark.parametrize(
    ("procfile_flag", "option"),
    [
        # A compressor per connection: about 45 KB more per websocket (docs/BENCHMARKS.md, ws_scale).
        ("--ws-per-message-deflate false", "--ws-per-message-deflate=false"),
        # uvicorn's default `websockets` protocol: three more tasks, more memory per socket (ws_scale).
        ("--ws websockets-sansio", "--ws=websockets-sansio"),
    ],
)
def test_every_realtime_server_command_sets(procfile_flag, option):
    procfile = (REPO / "Procfile").read_text()
    web = next(line for line in procfile.splitlines() if line.startswith("web:"))
    assert procfile_flag in web
    assert option in services()["realtime"]["command"]
    kubernetes = (REPO / "deploy" / "kubernetes" / "base" / "realtime.yaml").read_text()
    assert f"- {option}" in kubernetes
