"""Putting what a source parsed on the bus: events to `siem.events`, rejected items to `siem.dlq`.

Shared by the HTTP endpoints and the syslog listeners. It returns only once the bus holds
everything, so a caller answers success only for what is safely there.
"""

from __future__ import annotations

from services.ingest.metrics import REJECTED
from services.ingest.sources.parsed import Parsed
from services.shared import topics
from services.shared.bus import Bus, Record
from services.shared.dlq import dead_letter
from services.shared.metrics import EVENTS_RECEIVED, MESSAGES_PRODUCED

STAGE = "ingest"


async def publish(bus: Bus, parsed: Parsed, source: str) -> None:
    # No key: nothing downstream needs one event's copies on one partition, and a request's events
    # then go out as one record batch on one partition instead of being hashed one by one.
    records = [Record(value=written) for written in parsed.envelopes]
    if records:
        await bus.send_many(topics.EVENTS, records)
        MESSAGES_PRODUCED.labels(topics.EVENTS).inc(len(records))
        EVENTS_RECEIVED.labels(source).inc(len(records))
    for item in parsed.rejected:
        await dead_letter(
            bus, stage=STAGE, error_type=item.error_type, reason=item.reason, original=item.original, source=source
        )
        REJECTED.labels(source, item.error_type).inc()
