"""structlog set-up: JSON lines to stdout (console renderer on a TTY), secrets never printed."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

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


def configure_logging(settings: CommonSettings, service: str) -> None:
    console = settings.log_format == "console" or (settings.log_format == "auto" and sys.stdout.isatty())
    renderer: Any = structlog.dev.ConsoleRenderer() if console else structlog.processors.JSONRenderer()
    level = getattr(logging, settings.log_level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_secrets,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries (aiokafka, aiohttp) log through the standard library: keep their warnings, as one line each.
    logging.basicConfig(
        level=max(level, logging.WARNING), stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )
