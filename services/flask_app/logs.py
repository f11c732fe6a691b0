"""JSON log lines with ECS field names, one per line on stdout, each request's lines carrying its request id.

Both structlog calls and plain stdlib records (gunicorn, werkzeug, Flask) go through one
`ProcessorFormatter`, so every line a process prints has the same shape. The request id
lives in a context variable: set when a request starts, read when any line is formatted.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import uuid
from collections.abc import MutableMapping
from contextvars import ContextVar, Token
from typing import Any, TextIO

import structlog

from services.shared.logging import redact_secrets

SERVICE_NAME = "flask-app"
_REQUEST_ID: ContextVar[str | None] = ContextVar("flask_app_request_id", default=None)
# A caller's id is kept only when it is short and plain, so it cannot smuggle anything into a log line.
_ACCEPTABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def request_id_from(header: str | None) -> str:
    """The caller's `X-Request-ID` when it is acceptable, otherwise a fresh one."""
    if header and _ACCEPTABLE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def bind_request_id(request_id: str) -> Token[str | None]:
    return _REQUEST_ID.set(request_id)


def unbind_request_id(token: Token[str | None]) -> None:
    _REQUEST_ID.reset(token)


def _ecs_context(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Nest level and logger under `log`, and add the service, the process and the request id (`http.request.id`)."""
    event_dict["log"] = {"level": event_dict.pop("level", "info"), "logger": event_dict.pop("logger", None)}
    event_dict.setdefault("service", {"name": SERVICE_NAME})
    event_dict.setdefault("process", {"pid": os.getpid()})
    request_id = _REQUEST_ID.get()
    if request_id is not None:
        http = event_dict.setdefault("http", {})
        http.setdefault("request", {}).setdefault("id", request_id)
    # The fields a reader looks for first, first.
    head = {key: event_dict.pop(key) for key in ("@timestamp", "log", "message") if key in event_dict}
    return {**head, **event_dict}


def json_formatter() -> logging.Formatter:
    """The formatter every handler of this app uses: one JSON object per record."""
    return structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="@timestamp"),
            # structlog's `event` is the message; ECS's `event` is an object, passed as `ecs_event`.
            structlog.processors.EventRenamer("message", replace_by="ecs_event"),
            _ecs_context,
            redact_secrets,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )


def configure_process_logging(level: str = "info", stream: TextIO | None = None) -> logging.Handler:
    """Send every stdlib record of this process to `stream` (stdout) as JSON; returns the handler."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    return handler


def get_logger(name: str) -> Any:
    """A structlog logger over the stdlib logger `name`, leaving structlog's global configuration alone."""
    return structlog.wrap_logger(
        logging.getLogger(name),
        processors=[structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.stdlib.BoundLogger,
    )
