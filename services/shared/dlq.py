"""The dead-letter path: the original bytes go to `siem.dlq` with the reason in headers; nothing is dropped."""

from __future__ import annotations

import structlog

from services.shared import topics
from services.shared.bus import Bus, Record
from services.shared.metrics import DEAD_LETTERS, ERRORS

log = structlog.get_logger()

_MAX_REASON_BYTES = 1024


async def dead_letter(
    bus: Bus, *, stage: str, error_type: str, reason: str, original: bytes, source: str = "", key: bytes | None = None
) -> None:
    """Park `original` on the dead-letter topic, counted and logged by id, never by content."""
    headers = (
        ("siem.stage", stage.encode()),
        ("siem.error_type", error_type.encode()),
        ("siem.reason", reason.encode()[:_MAX_REASON_BYTES]),
        ("siem.source", source.encode()),
    )
    await bus.send(topics.DLQ, Record(value=original, key=key, headers=headers))
    ERRORS.labels(stage, error_type).inc()
    DEAD_LETTERS.labels(stage, error_type).inc()
    log.warning("dead_lettered", stage=stage, error_type=error_type, reason=reason, size_bytes=len(original))
