"""Putting what a source parsed on the bus: events to `siem.events`, rejected items to `siem.dlq`.

Shared by the HTTP endpoints and the syslog listeners. It returns only once the bus holds
everything, so a caller answers success only for what is safely there.
"""

from __future__ import annotations

import orjson
from pydantic import TypeAdapter

from services.ingest.metrics import REJECTED
from services.ingest.sources.parsed import Parsed
from services.shared import topics
from services.shared.bus import Bus, Record
from services.shared.dlq import dead_letter
from services.shared.event import Event
from services.shared.metrics import EVENTS_RECEIVED, MESSAGES_PRODUCED

STAGE = "ingest"

_EVENT = TypeAdapter(Event)
_WITHOUT_RAW = {"raw"}
# orjson writes these types its own way (a datetime as `+00:00`, not pydantic's `Z`): such a payload goes to pydantic.
_JSON_TYPES_ONLY = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


async def publish(bus: Bus, parsed: Parsed, source: str) -> None:
    records = [Record(value=envelope(e), key=e.id.encode()) for e in parsed.events]
    if records:
        await bus.send_many(topics.EVENTS, records)
        MESSAGES_PRODUCED.labels(topics.EVENTS).inc(len(records))
        EVENTS_RECEIVED.labels(source).inc(len(records))
    for item in parsed.rejected:
        await dead_letter(
            bus, stage=STAGE, error_type=item.error_type, reason=item.reason, original=item.original, source=source
        )
        REJECTED.labels(source, item.error_type).inc()


def envelope(event: Event) -> bytes:
    """The event's JSON on the bus, null fields left out (they read back as their defaults).

    pydantic writes the envelope but not `raw`: the payload is plain JSON data, which orjson writes
    several times faster (pydantic walking a 2 KB payload cost as much as validating the event).
    `raw` is the model's last field, so it goes where pydantic would have put it.
    """
    head = _EVENT.dump_json(event, exclude=_WITHOUT_RAW, exclude_none=True)
    if event.raw is None:
        return head
    try:
        raw = orjson.dumps(event.raw, option=_JSON_TYPES_ONLY)
    except TypeError:  # not plain JSON data (a datetime, an int key, a huge int…): pydantic writes it all
        return _EVENT.dump_json(event, exclude_none=True)
    return head[:-1] + b',"raw":' + raw + b"}"
