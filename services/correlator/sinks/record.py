"""An enriched event as the event sinks take it: the consumed JSON as it is, plus the few fields read from it.

Stage 1 validated the envelope before it wrote `siem.enriched`, and the record is that
envelope's JSON with `matches` spliced in (`with_matches` in services/shared/event.py). So
the sinks pass the text on unchanged and decode only what stream labels, timestamps and
structured metadata need, with msgspec: a fraction of the cost of validating and
re-serialising the whole event. A record that is not UTF-8 JSON, or whose decoded fields
are missing or of the wrong type, is refused with a ParseError that names the field
(the delivery stage dead-letters it); the rest of the envelope is not checked again here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
import orjson

from services.shared.errors import ParseError
from services.shared.event import EnrichedEvent

# Every struct here is built per event and holds only text, numbers and other such structs: none can be part
# of a reference cycle, so with `gc=False` the collector neither counts nor scans them. Allocations it does
# count set how often it runs, and each of its full passes walks the whole heap.


class EventFields(msgspec.Struct, frozen=True, gc=False):
    module: str = "generic"
    dataset: str | None = None


class LogSourceFields(msgspec.Struct, frozen=True, gc=False):
    product: str | None = None
    service: str | None = None


class MatchFields(msgspec.Struct, frozen=True, gc=False):
    id: str
    level: str = "medium"


class EnrichedFields(msgspec.Struct, frozen=True, gc=False):
    """The fields the sinks read, named and constrained as in `EnrichedEvent`, so either can be labelled."""

    id: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    time: Annotated[datetime, msgspec.Meta(tz=True)]
    event: EventFields = msgspec.field(default_factory=EventFields)
    logsource: LogSourceFields = msgspec.field(default_factory=lambda: LogSourceFields(product="generic"))
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    matches: tuple[MatchFields, ...] = ()  # a tuple of untracked structs is dropped from the collector's view


class EnrichedRecord(msgspec.Struct, frozen=True, gc=False):  # one per event: a fifth of a NamedTuple's cost
    line: str  # the record's JSON exactly as consumed
    size: int  # its length in bytes
    fields: EnrichedFields


_decoder = msgspec.json.Decoder(EnrichedFields)


def decode_enriched(value: bytes) -> EnrichedRecord:
    """The record of one `siem.enriched` message; ParseError("invalid_record") with the reason if it is not one."""
    try:
        line = value.decode()
        return EnrichedRecord(line, len(value), _decoder.decode(value))
    except UnicodeDecodeError:
        raise ParseError("invalid_record", "the record is not UTF-8") from None
    except msgspec.DecodeError as exc:  # ValidationError included: its message names the field (`$.time`)
        raise ParseError("invalid_record", str(exc)) from None


def record_of(event: EnrichedEvent) -> EnrichedRecord:
    """The record of an event built in Python (tests, tools), as it would be consumed: its JSON without nulls."""
    return decode_enriched(event.model_dump_json(exclude_none=True).encode())


def one_line(record: EnrichedRecord) -> str:
    """The record's JSON on one line, for a JSON-lines file: a producer other than stage 1 may have indented it."""
    # A JSON string cannot hold a raw newline, so one here is whitespace between tokens.
    return orjson.dumps(orjson.loads(record.line)).decode() if "\n" in record.line else record.line
