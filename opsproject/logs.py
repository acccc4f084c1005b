"""How every process formats its log lines: JSON lines in production, readable lines in development.

Code keeps logging through the standard library (`logging.getLogger(__name__)`); structlog's
ProcessorFormatter renders each record, adding what the current context knows (structlog's
contextvars: the request id, the user id, the task id and name, the job) and masking every
configured secret with the redaction health output uses. Each JSON line holds `time` (UTC,
ISO 8601), `level`, `logger` and `message`, then the context and any `extra=` fields.

settings.LOGGING is built by `logging_config`; Celery and uvicorn/gunicorn are told to keep it
(opsproject/celery.py, the `uvicorn`/`gunicorn` loggers below).
"""

from __future__ import annotations

import logging
import re
import secrets

import structlog

FORMATS = ("json", "plain")
# LOG_LEVEL's names; logging.config would fail on any other with a traceback, not a refusal.
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# What a client may send as X-Request-ID: long enough for a UUID or a proxy's trace id, in a
# charset that cannot forge log structure or headers. Anything else is replaced, not trusted.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")  # fullmatch: `$` would let a final newline in
# Loggers that servers configure with handlers of their own before Django loads settings.
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "gunicorn.error", "gunicorn.access")
# Server log records any client can cause at will: uvicorn's sans-I/O websockets protocol logs a
# text frame that is not UTF-8 (closed 1007, the client's doing) as an ERROR with a traceback, one
# per connection an anonymous client opens; its legacy protocol closed it without a word.
CLIENT_MISTAKES = {"uvicorn.error": ("Invalid UTF-8 sequence received from client.",)}


class ClientMistakes(logging.Filter):
    """Logs a record of CLIENT_MISTAKES as one WARNING line, without its traceback."""

    def __init__(self, messages: tuple[str, ...]):
        super().__init__()
        self.messages = messages

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.WARNING and record.msg in self.messages:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True


def quiet_client_mistakes() -> None:
    """Install ClientMistakes on the loggers of CLIENT_MISTAKES (once: the app registry's ready)."""
    for name, messages in CLIENT_MISTAKES.items():
        logger = logging.getLogger(name)
        if not any(isinstance(existing, ClientMistakes) for existing in logger.filters):
            logger.addFilter(ClientMistakes(messages))


def request_id_from(header: str | None) -> str:
    """The client's id when it is well-formed, otherwise a new random one."""
    if header and REQUEST_ID.fullmatch(header):
        return header
    return secrets.token_hex(16)


def current_request_id() -> str | None:
    """The request id bound in this context (a request being served, a task run for one)."""
    return structlog.contextvars.get_contextvars().get("request_id")


def _redact(logger, method_name, event_dict):
    """Masks secrets in the message and every string field, exception text included, and in the
    strings inside fields that hold dicts, lists or tuples (a logger's `extra=`)."""
    for key, value in event_dict.items():
        if key not in ("time", "level", "logger"):
            event_dict[key] = _masked(value)
    return event_dict


def _masked(value):
    from health.redact import mask

    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    return value


def _plain(logger, method_name, event_dict) -> str:
    """The development line: time level logger message, then the context as key=value."""
    time, level = event_dict.pop("time", ""), str(event_dict.pop("level", "")).upper()
    logger_name, message = event_dict.pop("logger", ""), event_dict.pop("event", "")
    exception = event_dict.pop("exception", None)
    context = " ".join(f"{key}={value}" for key, value in event_dict.items())
    line = f"{time} {level} {logger_name} {message}"
    line = f"{line} [{context}]" if context else line
    return f"{line}\n{exception}" if exception else line


def logging_config(log_format: str, level: str) -> dict:
    """settings.LOGGING for `log_format` ("json" or "plain")."""
    rendered = (
        [structlog.processors.EventRenamer("message"), structlog.processors.JSONRenderer(sort_keys=False)]
        if log_format == "json"
        else [_plain]
    )
    formatter = {
        "()": structlog.stdlib.ProcessorFormatter,
        "processors": [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redact,
            *rendered,
        ],
        "foreign_pre_chain": [
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
        ],
    }
    # In development the servers keep their own familiar lines; in production they are JSON too.
    server = {"handlers": ["console"], "level": level, "propagate": False}
    servers = {name: dict(server) for name in SERVER_LOGGERS} if log_format == "json" else {}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": formatter},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "INFO"},
            # A wrong Host header is the client's doing (answered 400): Django logs it as an ERROR with
            # a traceback, which would mail ADMINS for every scanner; the access log keeps the 400.
            "django.security.DisallowedHost": {"handlers": [], "level": "CRITICAL", "propagate": False},
            **servers,
        },
    }
