"""Putting what a source parsed on the bus: events to `siem.events`, rejected items to `siem.dlq`.

Shared by the HTTP endpoints and the syslog listeners. It returns only once the bus holds
everything, so a caller answers success only for what is safely there.
"""

from __future__ import annotations

import orjson

from services.ingest.metrics import REJECTED
from services.ingest.sources.parsed import Parsed
from services.shared import topics
from services.shared.bus import Bus, Record
from services.shared.dlq import dead_letter
from services.shared.event import Event
from services.shared.metrics import EVENTS_RECEIVED, MESSAGES_PRODUCED

STAGE = "ingest"

# pydantic-core's serializer of the model, called directly: `model_dump_json` would make a str to encode again.
_SERIALIZER = Event.__pydantic_serializer__
_WITHOUT_RAW = {"raw"}
# orjson writes these its own way (a datetime as `+00:00`, not pydantic's `Z`): such a payload goes to pydantic.
_JSON_TYPES_ONLY = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


async def publish(bus: Bus, parsed: Parsed, source: str) -> None:
    raw_json = parsed.raw_json
    # No key: nothing downstream needs one event's copies on one partition, and a request's events
    # then go out as one record batch on one partition instead of being hashed one by one.
    records = [Record(value=envelope(e, raw_json.get(i))) for i, e in enumerate(parsed.events)]
    if records:
        await bus.send_many(topics.EVENTS, records)
        MESSAGES_PRODUCED.labels(topics.EVENTS).inc(len(records))
        EVENTS_RECEIVED.labels(source).inc(len(records))
    for item in parsed.rejected:
        await dead_letter(
            bus, stage=STAGE, error_type=item.error_type, reason=item.reason, original=item.original, source=source
        )
        REJECTED.labels(source, item.error_type).inc()


def envelope(event: Event, raw_json: bytes | None = None) -> bytes:
    """The event's JSON on the bus, as `model_dump_json(exclude_none=True)` has it: null fields read back as defaults.

    pydantic writes the envelope but not `raw`, which is `raw_json` when the source kept the payload's
    posted JSON (spliced in unread), else orjson's JSON of it: pydantic walking a 2 KB payload cost
    more than the rest of the envelope. `raw` is the model's last field, where pydantic would put it.
    """
    head: bytes = _SERIALIZER.to_json(event, exclude=_WITHOUT_RAW, exclude_none=True)
    if event.raw is None:
        return head
    if raw_json is None:
        try:
            raw_json = orjson.dumps(event.raw, option=_JSON_TYPES_ONLY)
        except TypeError:  # not plain JSON data (a datetime, an int key, a huge int…): pydantic writes it all
            return _SERIALIZER.to_json(event, exclude_none=True)
    return b"".join((head[:-1], b',"raw":', raw_json, b"}"))
