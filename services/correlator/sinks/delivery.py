"""The sinks stage: `siem.alerts` in, every sink delivered, commit only after all of them succeeded.

A retriable failure (peer down, 5xx, 429) is retried with exponential backoff and jitter
for as long as it takes: holding the offset is what makes delivery at-least-once. A
non-retriable one (the sink refused the alert) sends the alert to the dead-letter topic.
"""

from __future__ import annotations

import asyncio
import random

import aiohttp
import structlog
from pydantic import ValidationError

from services.correlator.settings import SinksSettings
from services.correlator.sinks import AlertSink, build_sinks
from services.shared import topics
from services.shared.alert import Alert
from services.shared.bus import Bus, Message
from services.shared.consumer_stage import ConsumerStage
from services.shared.dlq import dead_letter
from services.shared.errors import SinkError
from services.shared.metrics import ERRORS, SINK_RETRIES

log = structlog.get_logger()

STAGE = "sinks"
GROUP = "siem-sinks"


class DeliveryHandler:
    def __init__(self, bus: Bus, sinks: list[AlertSink], max_backoff_seconds: float) -> None:
        self._bus = bus
        self._sinks = sinks
        self._max_backoff = max_backoff_seconds

    async def __call__(self, messages: list[Message]) -> dict[str, int]:
        alerts: list[tuple[Alert, Message]] = []
        for message in messages:
            try:
                alerts.append((Alert.model_validate_json(message.value), message))
            except ValidationError as exc:
                await dead_letter(
                    self._bus,
                    stage=STAGE,
                    error_type="invalid_alert",
                    reason=str(exc.errors()[0]["msg"]),
                    original=message.value,
                    key=message.key,
                )
        for sink in self._sinks:
            await self._deliver(sink, alerts)
        return {"alerts": len(alerts)}

    async def _deliver(self, sink: AlertSink, alerts: list[tuple[Alert, Message]]) -> None:
        delay = 0.5
        while True:
            try:
                await sink.send([alert for alert, _ in alerts])
                return
            except SinkError as exc:
                ERRORS.labels(STAGE, f"{sink.name}_failed").inc()
                if not exc.retriable:
                    for alert, message in alerts:
                        await dead_letter(
                            self._bus,
                            stage=STAGE,
                            error_type=f"{sink.name}_refused",
                            reason=exc.reason,
                            original=message.value,
                            key=alert.id.encode(),
                        )
                    return
                SINK_RETRIES.labels(sink.name).inc()
                log.warning("sink_retry", sink=sink.name, reason=exc.reason, retry_in_seconds=round(delay, 2))
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not a secret
                delay = min(delay * 2, self._max_backoff)


class DeliveryStage:
    """Owns the HTTP client the sinks share, for the lifetime of the stage."""

    name = STAGE

    def __init__(self, settings: SinksSettings, bus: Bus, *, drain_on_stop: bool) -> None:
        self._settings = settings
        self._bus = bus
        self._drain_on_stop = drain_on_stop

    async def run(self, stopping: asyncio.Event) -> None:
        timeout = aiohttp.ClientTimeout(total=self._settings.sink_timeout_seconds)
        async with aiohttp.ClientSession(timeout=timeout, raise_for_status=False) as session:
            sinks = build_sinks(self._settings, session)
            log.info("sinks_enabled", sinks=[s.name for s in sinks])
            stage = ConsumerStage(
                STAGE,
                self._bus,
                group=GROUP,
                topic=topics.ALERTS,
                handle=DeliveryHandler(self._bus, sinks, self._settings.sink_max_backoff_seconds),
                max_records=self._settings.consumer_max_records,
                drain_on_stop=self._drain_on_stop,
            )
            await stage.run(stopping)
