"""The log line formats: JSON objects with the context, readable lines, secrets masked in both."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from health import redact
from opsproject import logs

SECRET = "mailgun-key-0123456789abcdef"


@pytest.fixture
def secret_settings(settings):
    settings.MAILGUN_API_KEY = SECRET
    redact.forget()
    yield settings
    redact.forget()


def render(log_format: str, message: str, *args, exc_info=None, **extra) -> str:
    config = logs.logging_config(log_format, "INFO")["formatters"]["structured"]
    factory = config.pop("()")
    formatter = factory(**config)
    record = logging.LogRecord("helpdesk.views", logging.WARNING, __file__, 1, message, args, exc_info)
    record.__dict__.update(extra)
    return formatter.format(record)


def test_a_json_line_holds_the_fields_and_the_bound_context(secret_settings):
    with structlog.contextvars.bound_contextvars(request_id="req-12345678", task_id="t-1"):
        line = render("json", "sent %s", "it", user_id=7)
    parsed = json.loads(line)
    assert parsed["message"] == "sent it"
    assert parsed["level"] == "warning" and parsed["logger"] == "helpdesk.views"
    assert parsed["time"].endswith("Z")
    assert parsed["request_id"] == "req-12345678" and parsed["task_id"] == "t-1"
    assert parsed["user_id"] == 7


def test_secrets_are_masked_in_messages_fields_and_tracebacks(secret_settings):
    try:
        raise RuntimeError(f"https://api:{SECRET}@api.mailgun.net refused")
    except RuntimeError:
        import sys

        exc_info = sys.exc_info()
    for log_format in ("json", "plain"):
        line = render(log_format, "key is %s", SECRET, exc_info=exc_info, detail=f"k={SECRET}")
        assert SECRET not in line, line
        assert "***" in line
    assert "Traceback" in json.loads(render("json", "x", exc_info=exc_info))["exception"]


def test_secrets_nested_in_extra_fields_are_masked(secret_settings):
    extra = {"request": {"headers": [f"Authorization: Bearer {SECRET}"], "status": 401}}
    for log_format in ("json", "plain"):
        line = render(log_format, "refused", context=extra)
        assert SECRET not in line, line
    parsed = json.loads(render("json", "refused", context=extra))
    assert parsed["context"] == {"request": {"headers": ["Authorization: Bearer ***"], "status": 401}}


def test_plain_lines_are_readable_not_json(secret_settings):
    with structlog.contextvars.bound_contextvars(request_id="req-12345678"):
        line = render("plain", "hello %s", "there")
    assert not line.startswith("{")
    assert " WARNING helpdesk.views hello there [request_id=req-12345678]" in line


def test_a_well_formed_request_id_is_kept():
    assert (
        logs.request_id_from("0f8fad5b-d9cb-469f-a165-70867728950e") == "0f8fad5b-d9cb-469f-a165-70867728950e"
    )


def test_production_refuses_an_unknown_log_format_in_its_one_error():
    from tests.opsproject.test_production_settings import _error_lines, _start

    done = _start({"LOG_FORMAT": "xml", "DEBUG": "1"})
    (error,) = _error_lines(done)
    assert "LOG_FORMAT must be 'json' or 'plain'" in error and "DEBUG must be off" in error
    assert "Traceback" not in error


def test_a_task_run_binds_its_id_name_request_id_and_periodic_job():
    from celery import signals

    from mailops.tasks import send_message

    send_message.push_request(id="t-9", request_id="req-from-web-1", periodic_task_name="mail.refresh")
    try:
        signals.task_prerun.send(sender=send_message, task_id="t-9", task=send_message, args=(), kwargs={})
        assert structlog.contextvars.get_contextvars() == {
            "task_id": "t-9",
            "task_name": "mailops.send_message",
            "request_id": "req-from-web-1",
            "job": "mail.refresh",
        }
    finally:
        signals.task_postrun.send(sender=send_message, task_id="t-9", task=send_message, args=(), kwargs={})
        send_message.pop_request()
    assert structlog.contextvars.get_contextvars() == {}


def test_a_task_published_while_a_request_id_is_bound_carries_it():
    from celery import signals

    headers = {}
    with structlog.contextvars.bound_contextvars(request_id="req-abcdef12"):
        signals.before_task_publish.send(sender="mailops.send_message", body=(), headers=headers)
    assert headers["request_id"] == "req-abcdef12"
    untouched = {}
    signals.before_task_publish.send(sender="mailops.send_message", body=(), headers=untouched)
    assert "request_id" not in untouched


def test_production_refuses_an_unknown_log_level_in_its_one_error():
    """LOG_LEVEL reaches logging.config, which would fail with a traceback on a name it lacks."""
    from tests.opsproject.test_production_settings import _error_lines, _start

    done = _start({"LOG_LEVEL": "verbose", "LOG_FORMAT": "xml"})
    (error,) = _error_lines(done)
    assert "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL" in error
    assert "LOG_FORMAT must be 'json' or 'plain'" in error
    assert "Unable to configure" not in done.stderr


def test_development_refuses_an_unknown_log_level_with_one_line():
    from tests.opsproject.test_production_settings import _start

    done = _start({"DJANGO_ENV": "development", "LOG_LEVEL": "LOUD"})
    assert done.returncode != 0
    assert "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not 'LOUD'" in done.stderr
    assert "Unable to configure" not in done.stderr
