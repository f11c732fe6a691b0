"""The correlator's consumer stage: `siem.events` in, alerts onto `siem.alerts`, commit after the produce."""

from __future__ import annotations

from pydantic import ValidationError

from services.correlator.engine import DetectionEngine
from services.shared import topics
from services.shared.bus import Bus, Message, Record
from services.shared.consumer_stage import ConsumerStage
from services.shared.dlq import dead_letter
from services.shared.event import EnrichedEvent, Event
from services.shared.metrics import MESSAGES_PRODUCED

STAGE = "correlator"
GROUP = "siem-correlator"


class DetectionHandler:
    def __init__(self, bus: Bus, engine: DetectionEngine) -> None:
        self._bus = bus
        self._engine = engine

    async def __call__(self, messages: list[Message]) -> dict[str, int]:
        alerts: list[Record] = []
        enriched: list[Record] = []
        invalid = 0
        for message in messages:
            try:
                event = Event.model_validate_json(message.value)
            except ValidationError as exc:
                invalid += 1
                await dead_letter(
                    self._bus,
                    stage=STAGE,
                    error_type="invalid_envelope",
                    reason=str(exc.errors()[0]["msg"]),
                    original=message.value,
                    key=message.key,
                )
                continue
            raised = self._engine.evaluate(event)
            for alert in raised:
                alerts.append(Record(value=alert.model_dump_json().encode(), key=alert.rule.id.encode()))
            matched = EnrichedEvent(**event.__dict__, matches=[alert.rule for alert in raised])
            enriched.append(Record(value=matched.model_dump_json().encode(), key=message.key))
        # Both are acknowledged before the batch is committed: a crash in between replays the batch.
        for topic, records in ((topics.ALERTS, alerts), (topics.ENRICHED, enriched)):
            if records:
                await self._bus.send_many(topic, records)
                MESSAGES_PRODUCED.labels(topic).inc(len(records))
        return {"alerts": len(alerts), "invalid": invalid}


def detection_stage(bus: Bus, engine: DetectionEngine, *, max_records: int, drain_on_stop: bool) -> ConsumerStage:
    return ConsumerStage(
        STAGE,
        bus,
        group=GROUP,
        topic=topics.EVENTS,
        handle=DetectionHandler(bus, engine),
        max_records=max_records,
        drain_on_stop=drain_on_stop,
    )
