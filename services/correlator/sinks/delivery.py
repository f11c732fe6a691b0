"""Delivery stages: a topic in, every sink of its stream delivered, commit only after all succeeded.

A retriable failure (peer down, 5xx, 429) is retried with exponential backoff and jitter
for as long as it takes: holding the offset is what makes delivery at-least-once. A
non-retriable one (the sink refused the record) sends the record to the dead-letter topic.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Generic, TypeVar

import aiohttp
import structlog
from pydantic import BaseModel, ValidationError

from services.correlator.sinks import Sink, build_alert_sinks, build_event_sinks
from services.correlator.sinks.settings import SinksSettings
from services.shared import topics
from services.shared.alert import Alert
from services.shared.bus import Bus, Message
from services.shared.consumer_stage import ConsumerStage
from services.shared.dlq import dead_letter
from services.shared.errors import SinkError
from services.shared.event import EnrichedEvent
from services.shared.metrics import ERRORS, SINK_RETRIES

log = structlog.get_logger()

T = TypeVar("T", bound=BaseModel)


class DeliveryHandler(Generic[T]):
    def __init__(self, stage: str, bus: Bus, model: type[T], sinks: list[Sink[T]], max_backoff_seconds: float) -> None:
        self._stage = stage
        self._bus = bus
        self._model = model
        self._sinks = sinks
        self._max_backoff = max_backoff_seconds

    async def __call__(self, messages: list[Message]) -> dict[str, int]:
        records: list[tuple[T, Message]] = []
        for message in messages:
            try:
                records.append((self._model.model_validate_json(message.value), message))
            except ValidationError as exc:
                await dead_letter(
                    self._bus,
                    stage=self._stage,
                    error_type="invalid_record",
                    reason=str(exc.errors()[0]["msg"]),
                    original=message.value,
                    key=message.key,
                )
        if records:
            for sink in self._sinks:
                await self._deliver(sink, records)
        return {"delivered": len(records)}

    async def _deliver(self, sink: Sink[T], records: list[tuple[T, Message]]) -> None:
        delay = 0.5
        while True:
            try:
                await sink.send([record for record, _ in records])
                return
            except SinkError as exc:
                ERRORS.labels(self._stage, f"{sink.name}_failed").inc()
                if not exc.retriable:
                    for _, message in records:
                        await dead_letter(
                            self._bus,
                            stage=self._stage,
                            error_type=f"{sink.name}_refused",
                            reason=exc.reason,
                            original=message.value,
                            key=message.key,
                        )
                    return
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
        model: type[T],
        build: Callable[[SinksSettings, aiohttp.ClientSession], list[Sink[T]]],
        drain_on_stop: bool,
    ) -> None:
        self.name = name
        self._settings = settings
        self._bus = bus
        self._topic = topic
        self._model = model
        self._build = build
        self._drain_on_stop = drain_on_stop

    async def run(self, stopping: asyncio.Event) -> None:
        timeout = aiohttp.ClientTimeout(total=self._settings.sink_timeout_seconds)
        async with aiohttp.ClientSession(timeout=timeout, raise_for_status=False) as session:
            sinks = self._build(self._settings, session)
            log.info("sinks_enabled", stage=self.name, sinks=[s.name for s in sinks])
            stage = ConsumerStage(
                self.name,
                self._bus,
                group=f"siem-{self.name.replace('_', '-')}",
                topic=self._topic,
                handle=DeliveryHandler(
                    self.name, self._bus, self._model, sinks, self._settings.sink_max_backoff_seconds
                ),
                max_records=self._settings.consumer_max_records,
                drain_on_stop=self._drain_on_stop,
            )
            await stage.run(stopping)


def alert_delivery(settings: SinksSettings, bus: Bus, *, drain_on_stop: bool) -> DeliveryStage[Alert]:
    return DeliveryStage(
        "alert_delivery",
        settings,
        bus,
        topic=topics.ALERTS,
        model=Alert,
        build=build_alert_sinks,
        drain_on_stop=drain_on_stop,
    )


def event_delivery(settings: SinksSettings, bus: Bus, *, drain_on_stop: bool) -> DeliveryStage[EnrichedEvent]:
    return DeliveryStage(
        "event_delivery",
        settings,
        bus,
        topic=topics.ENRICHED,
        model=EnrichedEvent,
        build=build_event_sinks,
        drain_on_stop=drain_on_stop,
    )
