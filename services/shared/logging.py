"""structlog set-up: JSON lines to stdout (console renderer on a TTY), secrets never printed.

With SIEM_LOKI_URL set, every entry is also pushed to Loki through python-logging-loki,
after redaction, from a background thread so a slow Loki never slows a service.
"""

from __future__ import annotations

import atexit
import json
import logging
import re
import sys
from collections.abc import MutableMapping
from logging.handlers import QueueListener
from queue import Full, Queue
from typing import Any

import orjson
import structlog

from services.shared.settings import CommonSettings

_SECRET_KEY = re.compile(r"token|secret|password|passwd|authorization|signature|cookie|api_?key", re.I)
REDACTED = "[redacted]"


def redact_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Blank every field whose name says it holds a secret, at any depth, however it got there."""
    for key, value in event_dict.items():
        event_dict[key] = REDACTED if _SECRET_KEY.search(str(key)) else _redact_value(value)
    return event_dict


def _redact_value(value: Any) -> Any:
    if isinstance(value, MutableMapping):
        return redact_secrets(None, "", dict(value))
    if isinstance(value, (list, tuple)):
        return [_redact_value(v) for v in value]
    return value


class LokiLogShipper:
    """A structlog processor that hands each (already redacted) entry to python-logging-loki's handler.

    The handler posts from a QueueListener thread; the queue is bounded and a full queue drops
    the copy for Loki (stdout still has it) rather than block the service.
    """

    MAX_QUEUED = 10_000

    def __init__(self, settings: CommonSettings, service: str) -> None:
        from logging_loki import LokiHandler  # type: ignore[import-untyped]

        assert settings.loki_url
        base = settings.loki_url.rstrip("/")
        url = base if base.endswith("/loki/api/v1/push") else base + "/loki/api/v1/push"
        auth = None
        if settings.loki_username and settings.loki_password is not None:
            auth = (settings.loki_username, settings.loki_password.get_secret_value())
        handler = LokiHandler(url=url, tags={"app": "siem", "component": service}, auth=auth, version="1")
        headers = {"X-Scope-OrgID": settings.loki_tenant} if settings.loki_tenant else {}
        if settings.loki_bearer_token is not None:
            headers["Authorization"] = f"Bearer {settings.loki_bearer_token.get_secret_value()}"
        handler.emitter.session.headers.update(headers)
        # The library prints a traceback per failed push and drops its session (and our headers): count instead.
        handler.handleError = lambda _record: _count_failed_push()
        self._queue: Queue[logging.LogRecord] = Queue(self.MAX_QUEUED)
        self._listener = QueueListener(self._queue, handler)
        self._listener.start()
        self._running = True
        atexit.register(self.close)

    def __call__(self, _: Any, method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        name = str(event_dict.get("log_level", method)).upper()
        level = logging.getLevelNamesMapping().get(name, logging.INFO)
        record = logging.makeLogRecord(
            {
                "name": "siem",
                "levelno": level,
                "levelname": logging.getLevelName(level),
                "msg": orjson.dumps(dict(event_dict), default=str).decode(),
            }
        )
        try:
            self._queue.put_nowait(record)
        except Full:
            _count_failed_push()
        return event_dict

    def close(self) -> None:
        """Push what is queued and stop the thread (at exit)."""
        if self._running:
            self._running = False
            self._listener.stop()


def _count_failed_push() -> None:
    from services.shared.metrics import ERRORS

    ERRORS.labels("logging", "loki_push_failed").inc()


def _json_line(event_dict: MutableMapping[str, Any], default: Any) -> bytes:
    """orjson's JSON of a log entry; what it cannot write (an int past 64 bits) the standard library does."""
    try:
        return orjson.dumps(event_dict, default=default, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(event_dict, default=default).encode()


def configure_logging(settings: CommonSettings, service: str) -> None:
    console = settings.log_format == "console" or (settings.log_format == "auto" and sys.stdout.isatty())
    # JSON lines as orjson writes them, to stdout's bytes: the stdlib encoder and print() were most of
    # what a log line cost, and ingest writes one per request (structlog's own recipe for speed).
    renderer: Any = (
        structlog.dev.ConsoleRenderer() if console else structlog.processors.JSONRenderer(serializer=_json_line)
    )
    factory: Any = (
        structlog.PrintLoggerFactory(sys.stdout) if console else structlog.BytesLoggerFactory(sys.stdout.buffer)
    )
    level = getattr(logging, settings.log_level.upper())
    to_loki: list[Any] = []
    if settings.loki_url and settings.loki_service_logs:
        to_loki.append(LokiLogShipper(settings, service))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_secrets,
            structlog.processors.format_exc_info,
            *to_loki,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries (aiokafka, aiohttp) log through the standard library: keep their warnings, as one line each.
    logging.basicConfig(
        level=max(level, logging.WARNING), stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )
