"""Delivery stages: a topic in, every sink of its stream delivered, commit only after all succeeded.

A retriable failure (peer down, 5xx, 429) is retried with exponential backoff and jitter
for as long as it takes: holding the offset is what makes delivery at-least-once. A
non-retriable one (the sink refused a record) is narrowed down by sending the batch's
records one at a time (sinks are idempotent, so the ones already taken are taken again
harmlessly), and only the refused records go to the dead-letter topic, with the reason.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Generic, TypeVar

import aiohttp
import structlog

from services.correlator.sinks import Maintained, Sink, build_alert_sinks, build_event_sinks
from services.correlator.sinks.alert_record import AlertRecord, decode_alert
from services.correlator.sinks.batching import LingeringBus
from services.correlator.sinks.record import EnrichedRecord, decode_enriched
from services.correlator.sinks.settings import SinksSettings
from services.shared import topics
from services.shared.bus import Bus, Message
from services.shared.consumer_stage import ConsumerStage
from services.shared.dlq import dead_letter
from services.shared.errors import ParseError, SinkError
from services.shared.metrics import ERRORS, SINK_RETRIES

log = structlog.get_logger()

T = TypeVar("T")
Decode = Callable[[bytes], T]  # a message's value as the stream's record, or ParseError


class DeliveryHandler(Generic[T]):
    def __init__(
        self, stage: str, bus: Bus, decode: Decode[T], sinks: list[Sink[T]], max_backoff_seconds: float
    ) -> None:
        self._stage = stage
        self._bus = bus
        self._decode = decode
        self._sinks = sinks
        self._max_backoff = max_backoff_seconds

    async def __call__(self, messages: list[Message]) -> dict[str, int]:
        records: list[tuple[T, Message]] = []
        for message in messages:
            try:
                records.append((self._decode(message.value), message))
            except ParseError as exc:
                await dead_letter(
                    self._bus,
                    stage=self._stage,
                    error_type=exc.error_type,
                    reason=exc.reason,
                    original=message.value,
                    key=message.key,
                )
        if records:
            for sink in self._sinks:
                await self._deliver(sink, records)
        return {"delivered": len(records)}

    async def _deliver(self, sink: Sink[T], records: list[tuple[T, Message]]) -> None:
        try:
            await self._send_until_done(sink, [record for record, _ in records])
        except SinkError as refused:
            if len(records) > 1:
                for one in records:
                    await self._deliver(sink, [one])
                return
            [(_, message)] = records
            await dead_letter(
                self._bus,
                stage=self._stage,
                error_type=f"{sink.name}_refused",
                reason=refused.reason,
                original=message.value,
                key=message.key,
            )

    async def _send_until_done(self, sink: Sink[T], records: list[T]) -> None:
        """Send, retrying retriable failures with capped exponential backoff; a refusal is raised."""
        delay = min(0.5, self._max_backoff)
        while True:
            try:
                await sink.send(records)
                return
            except SinkError as exc:
                ERRORS.labels(self._stage, f"{sink.name}_failed").inc()
                if not exc.retriable:
                    raise
                SINK_RETRIES.labels(sink.name).inc()
                log.warning("sink_retry", sink=sink.name, reason=exc.reason, retry_in_seconds=round(delay, 2))
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311  # nosec B311 - jitter, not a secret
                delay = min(delay * 2, self._max_backoff)


class DeliveryStage(Generic[T]):
    """Owns the HTTP client its sinks share, for the lifetime of the stage."""

    def __init__(
        self,
        name: str,
        settings: SinksSettings,
        bus: Bus,
        *,
        topic: str,
        decode: Decode[T],
        build: Callable[[SinksSettings, aiohttp.ClientSession], list[Sink[T]]],
        drain_on_stop: bool,
        linger: tuple[float, int] | None = None,
    ) -> None:
        self.name = name
        self._settings = settings
        self._bus = bus
        self._topic = topic
        self._decode = decode
        self._build = build
        self._drain_on_stop = drain_on_stop
        self._linger = linger

    async def run(self, stopping: asyncio.Event) -> None:
        timeout = aiohttp.ClientTimeout(total=self._settings.sink_timeout_seconds)
        async with aiohttp.ClientSession(timeout=timeout, raise_for_status=False) as session:
            sinks = self._build(self._settings, session)
            log.info("sinks_enabled", stage=self.name, sinks=[s.name for s in sinks])
            # Batches by time and size are filled on the consumer side: nothing is committed while they fill.
            bus: Bus = self._bus
            if self._linger is not None:
                bus = LingeringBus(self._bus, linger_seconds=self._linger[0], max_bytes=self._linger[1])
            stage = ConsumerStage(
                self.name,
                bus,
                group=f"siem-{self.name.replace('_', '-')}",
                topic=self._topic,
                handle=DeliveryHandler(
                    self.name, self._bus, self._decode, sinks, self._settings.sink_max_backoff_seconds
                ),
                max_records=self._settings.consumer_max_records,
                drain_on_stop=self._drain_on_stop,
            )
            async with asyncio.TaskGroup() as background:
                for sink in sinks:
                    if isinstance(sink, Maintained):
                        background.create_task(sink.maintain(stopping), name=f"{self.name}.{sink.name}")
                await stage.run(stopping)


def alert_delivery(settings: SinksSettings, bus: Bus, *, drain_on_stop: bool) -> DeliveryStage[AlertRecord]:
    return DeliveryStage(
        "alert_delivery",
        settings,
        bus,
        topic=topics.ALERTS,
        decode=decode_alert,
        build=build_alert_sinks,
        drain_on_stop=drain_on_stop,
    )


def event_delivery(settings: SinksSettings, bus: Bus, *, drain_on_stop: bool) -> DeliveryStage[EnrichedRecord]:
    return DeliveryStage(
        "event_delivery",
        settings,
        bus,
        topic=topics.ENRICHED,
        decode=decode_enriched,
        build=build_event_sinks,
        drain_on_stop=drain_on_stop,
        linger=(settings.loki_batch_wait_seconds, settings.loki_batch_max_bytes) if settings.loki_url else None,
    )
