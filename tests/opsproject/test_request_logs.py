"""JSON log lines follow one request from the web through the mail task to the websocket event."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.contrib.auth.models import Group, User
from knox.models import AuthToken

from helpdesk.models import Ticket
from helpdesk.permissions import AGENTS_GROUP
from opsproject.celery import app
from tests.realtime.support import PusherClient, asgi_server, http, token_headers
from tests.support.celery_worker import child_env
from tests.support.processes import BIN, running
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

JSON_LOGS = {"LOG_FORMAT": "json"}


def json_lines(process) -> list[dict]:
    found = []
    for line in list(process.lines):
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


def with_request_id(process, request_id: str) -> list[dict]:
    return [line for line in json_lines(process) if line.get("request_id") == request_id]


def person(username: str, agent: bool = False) -> tuple[User, str]:
    user = User.objects.create_user(username, f"{username}@example.com", first_name=username.title())
    if agent:
        user.groups.add(Group.objects.get_or_create(name=AGENTS_GROUP)[0])
    return user, AuthToken.objects.create(user=user)[1]


def test_one_request_id_is_found_in_the_web_worker_and_realtime_lines():
    requester, _ = person("rita")
    agent, agent_token = person("alice", agent=True)
    ticket = Ticket.objects.create(subject="Printer on fire", requester=requester, assignee=agent)
    channel = f"private-ticket.{ticket.pk}.agents"
    request_id = "trace-0123456789abcdef"

    app.control.purge()
    worker_argv = [str(BIN / "celery"), "-A", "opsproject", "worker", "--loglevel=INFO", "--pool=prefork"]
    worker_argv += ["--concurrency=1", "--without-gossip", "--without-mingle", "--queues=celery"]
    with (
        asgi_server(**JSON_LOGS) as web,
        asgi_server(**JSON_LOGS) as realtime,
        running(worker_argv, env=child_env(**JSON_LOGS)) as worker,
    ):
        worker.wait_for_line(r"ready\.", timeout=60)

        async def scenario() -> dict:
            client = await PusherClient.connect(realtime.ws_url())
            status, body = await asyncio.to_thread(
                http,
                "POST",
                f"{web.base}/broadcasting/auth",
                {"socket_id": client.socket_id, "channel_name": channel},
                token_headers(agent_token),
            )
            assert status == 200, body
            await client.subscribe(channel, **body)
            status, reply = await asyncio.to_thread(
                http,
                "POST",
                f"{web.base}/api/tickets/{ticket.pk}/replies/",
                {"body": "We are on it.", "public": True},
                {**token_headers(agent_token), "X-Request-ID": request_id},
                False,
            )
            assert status == 201, reply
            return await client.expect("ticket.reply_created", channel)

        event = asyncio.run(scenario())
        assert event["data"]["ticket_id"] == ticket.pk

        wait_until(
            lambda: with_request_id(realtime.process, request_id),
            timeout=60,
            what="the realtime server's line with the request id",
            explain=lambda: realtime.process.output[-3000:],
        )
        wait_until(
            lambda: any(line.get("task_name") for line in with_request_id(worker, request_id)),
            timeout=90,
            what="the worker's task line with the request id",
            explain=lambda: worker.output[-3000:],
        )
        web_lines = with_request_id(web.process, request_id)

    request_line = next(line for line in web_lines if line["logger"] == "opsproject.requests")
    assert request_line["status"] == 201 and request_line["user_id"] == agent.pk
    assert {"time", "level", "logger", "message"} <= set(request_line)
    task_lines = [line for line in with_request_id(worker, request_id) if line.get("task_name")]
    assert any(line["task_name"] == "mailops.send_message" and line["task_id"] for line in task_lines)
    delivered = with_request_id(realtime.process, request_id)
    assert any(channel in line["message"] for line in delivered), delivered
