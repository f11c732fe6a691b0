"""Generic JSON: one object, an array of objects, or NDJSON, in (or near) the envelope's own shape.

An object may carry `id`, `time` (or `@timestamp`/`timestamp`: RFC 3339 or epoch seconds/ms),
`logsource`, `message`, `labels`, `event` and ECS field sets; it is kept whole in `raw`.
Without a `logsource` it answers to `{product: generic}` (DESIGN.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from services.ingest.sources.parsed import Document, Parsed, Rejected, describe, json_documents
from services.ingest.sources.times import epoch_time, text_time
from services.shared.event import Event, LogSource

_TIME_KEYS = ("time", "@timestamp", "timestamp")
_ECS_KEYS = ("event", "user", "source", "destination", "host", "process", "url", "http", "orchestrator")
_GENERIC = LogSource(product="generic")  # frozen: one instance serves every event without a logsource


class GenericSource:
    name = "generic"

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Parsed:
        parsed = Parsed()
        now = datetime.now(UTC)
        items: list[Document] = []
        for number, document, original in json_documents(body, parsed):
            if number is None and isinstance(document, list):
                items.extend((None, item, orjson.dumps(item)) for item in document)
            else:
                items.append((number, document, original))
        if not body.strip():
            return parsed
        if not items and not parsed.rejected:
            parsed.rejected.append(Rejected("empty_batch", "the body holds no events", body))
        for item_line, item, original in items:
            where = f"line {item_line}: " if item_line else ""
            try:
                parsed.accept(to_event(item, now), original)
            except (ValueError, TypeError) as exc:
                parsed.rejected.append(Rejected("invalid_event", where + describe(exc), original, item_line))
        return parsed


def to_event(item: Any, received: datetime) -> Event:
    """Map one posted object to the envelope; raises ValueError with a readable reason."""
    if not isinstance(item, dict):
        raise ValueError(f"expected a JSON object, got {type(item).__name__}")
    event_time = None
    for key in _TIME_KEYS:
        if (event_time := item.get(key)) is not None:
            break
    logsource, message = item.get("logsource"), item.get("message")
    # One validation of one dict: pydantic checks the nested sets in the same pass, in its core. An empty
    # `event` set is given too: the model's default would build it in Python, costing more than the rest.
    document: dict[str, Any] = {"event": {}}
    document.update((k, value) for k in _ECS_KEYS if isinstance(value := item.get(k), dict))
    document.update(
        id=str(item["id"]) if item.get("id") not in (None, "") else uuid.uuid4().hex,
        time=_parse_time(event_time) if event_time is not None else received,
        ingested=received,
        logsource=_logsource(logsource) if logsource else _GENERIC,
        message=message if isinstance(message, str) else None,
        labels=item.get("labels") or {},
        raw=item,
    )
    return Event.model_validate(document)


def _logsource(value: Any) -> LogSource:
    # Validated on its own, so a bad logsource is reported as before (`product: …`, not `logsource.product: …`).
    return LogSource.model_validate(value)


def _parse_time(value: Any) -> datetime:
    if isinstance(value, bool):
        raise ValueError("time: expected RFC 3339 text or epoch seconds, got a boolean")
    if isinstance(value, (int, float)):
        return epoch_time(value, "time")
    if isinstance(value, str):
        return text_time(value, "time")
    raise ValueError(f"time: expected RFC 3339 text or epoch seconds, got {type(value).__name__}")
