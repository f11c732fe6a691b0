"""The correlator's two consumer stages over the bus (DESIGN.md, "Two stages of correlation").

Stage 1 (detection) reads `siem.events` on any partition: alerts to `siem.alerts`, every
event with its matches to `siem.enriched`, and hits re-keyed by group to `siem.hits`.
Stage 2 (correlation) reads `siem.hits`, where one group is always on one partition, and
keeps the windows. Each commits only after what it produced was acknowledged.
"""

from __future__ import annotations

import asyncio

import msgspec

from services.correlator.correlate import CorrelationEngine
from services.correlator.engine import DetectionEngine
from services.correlator.hits import Hit
from services.shared import topics
from services.shared.bus import Bus, Message, Record
from services.shared.consumer_stage import ConsumerStage
from services.shared.dlq import dead_letter
from services.shared.envelope import InvalidEnvelope, decode
from services.shared.event import with_matches
from services.shared.metrics import MESSAGES_PRODUCED

DETECTION_GROUP = "siem-correlator"
CORRELATION_GROUP = "siem-correlator-windows"


class DetectionHandler:
    def __init__(self, bus: Bus, engine: DetectionEngine) -> None:
        self._bus = bus
        self.engine = engine

    async def __call__(self, messages: list[Message]) -> dict[str, int]:
        alerts: list[Record] = []
        hits: list[Record] = []
        enriched: list[Record] = []
        evaluate = self.engine.evaluate
        invalid = 0
        # Per event, the loop does only what the event needs: most raise no alert and no hit, and
        # a comprehension is a function call each (Python 3.11) even when it has nothing to build.
        for message in messages:
            try:
                # Only the paths its logsource's rules read are decoded from `raw`, when a rule first reads
                # one: a number no double holds (1e999) there shows then.
                # What was raised for the event before that goes with it; it is dead-lettered whole.
                detection = evaluate(decode(message.value))
            except InvalidEnvelope as exc:
                invalid += 1
                await _dead_letter(self._bus, "correlator", "invalid_envelope", str(exc), message)
                continue
            for raised in detection.raised:
                alerts.append(Record(raised.to_json(), raised.template.key))
            for hit in detection.hits:
                hits.append(Record(hit.to_json(), hit.key().encode()))
            enriched.append(Record(with_matches(message.value, detection.matches), message.key))
        self.engine.flush_metrics()
        await _produce(self._bus, {topics.ALERTS: alerts, topics.HITS: hits, topics.ENRICHED: enriched})
        return {"alerts": len(alerts), "hits": len(hits), "invalid": invalid}


class CorrelationHandler:
    def __init__(self, bus: Bus, engine: CorrelationEngine) -> None:
        self._bus = bus
        self.engine = engine
        self._partitions: set[int] = set()

    def partitions_changed(self, held: set[int]) -> None:
        """Windows of partitions gone to another instance are dropped; that instance rebuilds them."""
        gone = self._partitions - held
        if gone:
            self.engine.forget(gone)
        self._partitions = held

    async def __call__(self, messages: list[Message]) -> dict[str, int]:
        out: dict[str, list[Record]] = {topics.ALERTS: [], topics.HITS: []}
        late = replayed = 0
        for message in messages:
            try:
                hit = Hit.from_json(message.value)
            except msgspec.DecodeError as exc:  # malformed JSON, or a field of the wrong shape (ValidationError)
                await _dead_letter(self._bus, "correlation", "invalid_hit", str(exc), message)
                continue
            result = self.engine.observe(hit, message.partition)
            if message.replayed:
                replayed += 1  # rebuilding state: the previous owner already sent what this produces
                continue
            if result.late:
                late += 1
                reason = f"event time {hit.time.isoformat()} is behind the watermark"
                await _dead_letter(self._bus, "correlation", "late_hit", reason, message)
            if result.alerts:
                out[topics.ALERTS] += [Record(a.to_json(), a.rule.id.encode()) for a in result.alerts]
            if result.hits:
                out[topics.HITS] += [Record(h.to_json(), h.key().encode()) for h in result.hits]
        await _produce(self._bus, out)
        return {"alerts": len(out[topics.ALERTS]), "late": late, "replayed": replayed}


async def _produce(bus: Bus, out: dict[str, list[Record]]) -> None:
    """Every topic's records at once: one wait for the acknowledgements, not one per topic."""
    sent = {topic: records for topic, records in out.items() if records}
    await asyncio.gather(*(bus.send_many(topic, records) for topic, records in sent.items()))
    for topic, records in sent.items():
        MESSAGES_PRODUCED.labels(topic).inc(len(records))


async def _dead_letter(bus: Bus, stage: str, error_type: str, reason: str, message: Message) -> None:
    """The consumed record to the DLQ as it was, key included, with why it was not acted on."""
    await dead_letter(bus, stage=stage, error_type=error_type, reason=reason, original=message.value, key=message.key)


def detection_stage(bus: Bus, handler: DetectionHandler, *, max_records: int, drain_on_stop: bool) -> ConsumerStage:
    return ConsumerStage(
        "correlator",
        bus,
        group=DETECTION_GROUP,
        topic=topics.EVENTS,
        handle=handler,
        max_records=max_records,
        drain_on_stop=drain_on_stop,
    )


def correlation_stage(
    bus: Bus, handler: CorrelationHandler, *, max_records: int, drain_on_stop: bool, rewind_seconds: float
) -> ConsumerStage:
    return ConsumerStage(
        "correlation",
        bus,
        group=CORRELATION_GROUP,
        topic=topics.HITS,
        handle=handler,
        max_records=max_records,
        drain_on_stop=drain_on_stop,
        rewind_seconds=rewind_seconds,
        on_partitions=handler.partitions_changed,
    )
