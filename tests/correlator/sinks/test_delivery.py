"""Delivery of a batch to a real Loki: retried until accepted, refusals isolated to the records refused.

Also the consumer-side batching (by size and time) the Loki stream uses.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import aiohttp
import orjson

from services.correlator.sinks.batching import LingeringConsumer
from services.correlator.sinks.delivery import DeliveryHandler
from services.correlator.sinks.loki import LokiSink
from services.correlator.sinks.record import decode_enriched
from services.correlator.sinks.settings import SinksSettings
from services.shared import topics
from services.shared.bus import Message, Record
from services.shared.bus.memory import MemoryBus
from services.shared.event import EnrichedEvent
from services.shared.metrics import SINK_RETRIES
from tests.loki.gateway import LokiGateway
from tests.loki.loki_service import query_range


def _message(offset: int, event: EnrichedEvent | bytes) -> Message:
    value = event if isinstance(event, bytes) else event.model_dump_json().encode()
    return Message(topic=topics.ENRICHED, partition=0, offset=offset, value=value, key=b"k")


def _event(n: int, age: timedelta = timedelta()) -> EnrichedEvent:
    now = datetime.now(UTC) - age
    return EnrichedEvent(id=f"evt-{n}", time=now + timedelta(milliseconds=n), ingested=now, event={"module": "system"})


async def _deliver(loki: LokiGateway, tenant: str, messages: list[Message], bus: MemoryBus) -> dict[str, int]:
    settings = SinksSettings(loki_url=loki.url, loki_tenant=tenant)
    async with aiohttp.ClientSession() as session:
        handler = DeliveryHandler("event_delivery", bus, decode_enriched, [LokiSink(settings, session)], 0.2)
        return await handler(messages)


async def test_a_refused_event_alone_goes_to_the_dead_letter_topic(loki: LokiGateway, tenant: str) -> None:
    """Loki refuses one event (too old) and two records are not events: the others are stored, those dead-lettered."""
    bus = MemoryBus(capacity=100)
    dlq = bus.consumer("test", [topics.DLQ])
    await dlq.start()
    events = [_event(0), _event(1, age=timedelta(days=8)), _event(2)]
    messages = [_message(n, e) for n, e in enumerate(events)] + [_message(3, b"not json"), _message(4, b'{"id":"x"}')]
    await _deliver(loki, tenant, messages, bus)
    stored = query_range(loki.loki_url, tenant, '{module="system"}')
    assert sorted(orjson.loads(e.line)["id"] for e in stored) == ["evt-0", "evt-2"]
    dead = await dlq.getmany(timeout_ms=100, max_records=10)
    assert [(m.value, m.header("siem.error_type")) for m in dead] == [
        (b"not json", b"invalid_record"),
        (b'{"id":"x"}', b"invalid_record"),
        (messages[1].value, b"loki_refused"),
    ]
    assert b"malformed" in (dead[0].header("siem.reason") or b"")
    assert b"`time`" in (dead[1].header("siem.reason") or b"")
    assert b"too old" in (dead[2].header("siem.reason") or b"")


async def test_loki_failing_for_a_while_is_retried_until_it_takes_the_batch(loki: LokiGateway, tenant: str) -> None:
    """429s then 500s for about two seconds: the handler keeps retrying and returns once Loki has every event."""
    retries_before = SINK_RETRIES.labels("loki")._value.get()
    loki.fail(429, seconds=1)
    events = [_event(n) for n in range(5)]

    async def then_500() -> None:
        await asyncio.sleep(1)
        loki.fail(500, seconds=1, after_forwarding=True)

    flip = asyncio.create_task(then_500())
    await _deliver(loki, tenant, [_message(n, e) for n, e in enumerate(events)], MemoryBus(capacity=10))
    await flip
    assert SINK_RETRIES.labels("loki")._value.get() > retries_before
    stored = query_range(loki.loki_url, tenant, '{module="system"}')
    assert sorted(orjson.loads(e.line)["id"] for e in stored) == [e.id for e in events]


async def test_lingering_consumer_waits_for_more_until_its_time_is_up() -> None:
    """A message arriving within the linger time joins the batch; the poll ends at the deadline."""
    bus = MemoryBus(capacity=100)
    consumer = LingeringConsumer(bus.consumer("g", [topics.ENRICHED]), linger_seconds=0.5, max_bytes=10_000)
    await consumer.start()
    await bus.send(topics.ENRICHED, Record(b"first"))

    async def later() -> None:
        await asyncio.sleep(0.1)
        await bus.send(topics.ENRICHED, Record(b"second"))

    sending = asyncio.create_task(later())
    batch = await consumer.getmany(timeout_ms=200, max_records=100)
    await sending
    assert [m.value for m in batch] == [b"first", b"second"]


async def test_lingering_consumer_stops_waiting_once_the_batch_is_big_enough() -> None:
    """Once max_bytes is reached the batch goes as it is: a message arriving later is left for the next one."""
    bus = MemoryBus(capacity=100)
    consumer = LingeringConsumer(bus.consumer("g", [topics.ENRICHED]), linger_seconds=1, max_bytes=10)
    await consumer.start()
    await bus.send(topics.ENRICHED, Record(b"0123456789"))

    async def later() -> None:
        await asyncio.sleep(0.1)
        await bus.send(topics.ENRICHED, Record(b"later"))

    sending = asyncio.create_task(later())
    batch = await consumer.getmany(timeout_ms=200, max_records=100)
    await sending
    assert [m.value for m in batch] == [b"0123456789"]
