"""Generic JSON: one object, an array of objects, or NDJSON, in (or near) the envelope's own shape.

An object may carry `id`, `time` (or `@timestamp`/`timestamp`: RFC 3339 or epoch seconds/ms),
`logsource`, `message`, `labels`, `event` and ECS field sets; it is kept whole in `raw`.
Without a `logsource` it answers to `{product: generic}` (DESIGN.md).

An NDJSON line (what Vector, Fluent Bit and the benchmark post) is read for the keys the envelope
takes only: msgspec decodes them into a Struct and skips the rest unbuilt, and `raw` is the line
itself. msgspec does not check what it skips (UTF-8, a number no double holds, such as 1e999), so
simdjson checks the whole line first, at C speed. A line that either refuses, or that is not an
object, is read by orjson as before, which gives today's answer and reason.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson
import simdjson
from msgspec.structs import astuple

from services.ingest.envelope import checked_envelope
from services.ingest.sources.parsed import Parsed, Rejected, ViewDocument, describe, is_blank, json_documents
from services.ingest.sources.times import epoch_time, text_time
from services.shared.event import Event, LogSource

# In a fixed order, so that an envelope's sets come in the same order whichever way the item was read.
_ECS_KEYS = ("event", "user", "source", "destination", "host", "process", "url", "http", "orchestrator")
_GENERIC = LogSource(product="generic")  # frozen: one instance serves every event without a logsource
# Validated logsources by their items (frozen, so shared by every event naming the same one). A sender
# inventing a new logsource per item costs at most this many entries of three short texts (a valid
# logsource has no other keys) before the cache starts over.
_LOGSOURCES: dict[tuple[tuple[str, Any], ...], LogSource] = {}
_LOGSOURCE_ENTRIES = 1024
_LOGSOURCE_TEXT_CHARS = 256


# The item's top-level keys `_document` reads, the field sets last.
_ITEM_KEYS = ("id", "time", "@timestamp", "timestamp", "logsource", "message", "labels", *_ECS_KEYS)
_SETS_FROM = len(_ITEM_KEYS) - len(_ECS_KEYS)
# Those keys read from a line, each as the JSON value it holds (null when absent, which `_document`
# takes alike); the rest of the line is skipped, not built. Not tracked by the collector: it holds
# only JSON values, which cannot make a cycle.
_Keys = msgspec.defstruct(
    "_Keys",
    [(key.replace("@", "at_"), Any, msgspec.field(default=None, name=key)) for key in _ITEM_KEYS],
    gc=False,
)
_READ_KEYS = msgspec.json.Decoder(_Keys)


class GenericSource:
    name = "generic"

    def __init__(self) -> None:
        # One parser, reused line after line (it keeps its buffers); parse() is never re-entered.
        self._checker = simdjson.Parser()

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Parsed:
        parsed = Parsed()
        now = datetime.now(UTC)
        items: list[ViewDocument] = []
        for number, document, original in json_documents(body, parsed, self._read_line, views=True):
            if number is None and isinstance(document, list):
                items.extend((None, item, orjson.dumps(item)) for item in document)
            else:
                items.append((number, document, original))
        if is_blank(body):
            return parsed
        if not items and not parsed.rejected:
            parsed.rejected.append(Rejected("empty_batch", "the body holds no events", body))
        for item_line, item, original in items:
            try:
                document = _document_of(astuple(item), now) if type(item) is _Keys else _document(item, now)
                # Most items already hold what the envelope wants: checked and written without pydantic.
                written = checked_envelope(document, original)
                if written is not None:
                    parsed.add(document["id"], written)
                else:  # pydantic coerces what it may (a numeric `user.id`) or gives the reason
                    if type(item) is _Keys:  # the event's `raw` is the whole item
                        item = orjson.loads(original)
                    parsed.accept(_validated(document, item), original)
            except (ValueError, TypeError) as exc:
                where = f"line {item_line}: " if item_line else ""
                parsed.rejected.append(Rejected("invalid_event", where + describe(exc), bytes(original), item_line))
        return parsed

    def _read_line(self, line: memoryview) -> Any:
        """The line's envelope keys (`_Keys`) when simdjson and msgspec both read it, else orjson's whole item.

        Whatever simdjson accepts, orjson reads too (UTF-8 checked, every number within a double or
        64-bit integer, no lone surrogate, depth at most 1024), so a `_Keys` holds the values orjson
        would give for those keys. What either refuses (a byte order mark, a number orjson reads as a
        float, an array) goes to orjson, which reads it or gives the reason as before.
        """
        try:
            self._checker.parse(line)  # the document is dropped at once, freeing the parser for the next line
            return _READ_KEYS.decode(line)
        except (ValueError, RuntimeError, msgspec.DecodeError):
            return orjson.loads(line)


def to_event(item: Any, received: datetime) -> Event:
    """Map one posted object to the envelope; raises ValueError with a readable reason."""
    return _validated(_document(item, received), item)


def _document(item: Any, received: datetime) -> dict[str, Any]:
    """The envelope's fields for one posted object, not yet validated: no `raw`, the logsource as posted."""
    if not isinstance(item, dict):
        raise ValueError(f"expected a JSON object, got {type(item).__name__}")
    return _document_of(tuple(map(item.get, _ITEM_KEYS)), received)


def _document_of(values: Sequence[Any], received: datetime) -> dict[str, Any]:
    """`_document` of an item's values for `_ITEM_KEYS` (null for a key it lacks, which it takes alike)."""
    item_id, event_time, at_timestamp, timestamp, logsource, message, labels = values[:_SETS_FROM]
    if event_time is None:
        event_time = at_timestamp if at_timestamp is not None else timestamp
    # One dict, validated in one pass (nested sets included). An empty `event` set is given too: the
    # model's default would build it in Python, costing more than the rest.
    document: dict[str, Any] = {"event": {}}
    sets = values[_SETS_FROM:]
    if sets.count(None) != len(sets):  # most items hold none of them, or one
        for key, value in zip(_ECS_KEYS, sets, strict=True):
            if isinstance(value, dict):
                document[key] = value
    # 128 random bits as 32 hex digits, as uuid4().hex wrote them, for a quarter of its cost (2 µs an event).
    document["id"] = str(item_id) if item_id not in (None, "") else secrets.token_hex(16)
    document["time"] = _parse_time(event_time) if event_time is not None else received
    document["ingested"] = received
    if logsource:  # without one (or with an empty one), the envelope's default: {product: generic}
        document["logsource"] = logsource
    if isinstance(message, str):
        document["message"] = message
    document["labels"] = labels or {}
    return document


def _validated(document: dict[str, Any], item: Any) -> Event:
    """The `Event` of a document `_document` made from `item`; raises ValueError (pydantic's) with the field."""
    logsource = document.get("logsource")
    return Event.model_validate(document | {"logsource": _logsource(logsource) if logsource else _GENERIC, "raw": item})


def _logsource(value: Any) -> LogSource:
    """The item's logsource, validated once per distinct one: a batch's items share a handful of them.

    Only logsources of short text are remembered, keyed on their items: a key equal to one of those
    holds the same text, so it validates the same. Anything else (a list, a number) is validated every time,
    on its own, so a bad logsource is reported as before (`product: …`, not `logsource.product: …`).
    """
    if not isinstance(value, dict):
        return LogSource.model_validate(value)
    try:
        key = tuple(value.items())
        cached = _LOGSOURCES.get(key)
    except TypeError:  # an unhashable value (a list, an object): not a logsource that validates anyway
        return LogSource.model_validate(value)
    if cached is None:
        cached = LogSource.model_validate(value)  # raises for a bad one, which is then not remembered
        if all(v is None or (type(v) is str and len(v) <= _LOGSOURCE_TEXT_CHARS) for v in value.values()):
            if len(_LOGSOURCES) >= _LOGSOURCE_ENTRIES:
                _LOGSOURCES.clear()
            _LOGSOURCES[key] = cached
    return cached


def _parse_time(value: Any) -> datetime:
    if isinstance(value, bool):
        raise ValueError("time: expected RFC 3339 text or epoch seconds, got a boolean")
    if isinstance(value, (int, float)):
        return epoch_time(value, "time")
    if isinstance(value, str):
        return text_time(value, "time")
    raise ValueError(f"time: expected RFC 3339 text or epoch seconds, got {type(value).__name__}")
