"""DetectionHandler over the memory bus: envelopes in, enriched events and alerts out, bad envelopes dead-lettered."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson

from services.correlator.engine import DetectionEngine
from services.correlator.ruleset import RuleSet
from services.correlator.stage import DetectionHandler
from services.ingest.envelope import envelope
from services.shared import topics
from services.shared.bus import Message
from services.shared.bus.memory import MemoryBus
from services.shared.event import Event, LogSource
from tests.memory_bus import read_topic

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RULE = str(uuid.uuid5(uuid.NAMESPACE_URL, "siem-test:detection-stage"))


def _handler(tmp_path: Path) -> tuple[DetectionHandler, MemoryBus]:
    (tmp_path / "rule.yml").write_text(
        f"title: denied\nid: {RULE}\nlogsource: {{product: test}}\n"
        "detection: {selection: {responseStatus.code: 403}, condition: selection}\nlevel: high\n",
        encoding="utf-8",
    )
    rules = RuleSet.load([tmp_path])
    assert [str(e) for e in rules.errors] == []
    bus = MemoryBus(capacity=1000)
    return DetectionHandler(bus, DetectionEngine(rules)), bus


def _envelope(event_id: str, code: object) -> bytes:
    raw = {"responseStatus": {"code": code}}
    return envelope(Event(id=event_id, time=T0, ingested=T0, logsource=LogSource(product="test"), raw=raw))


async def test_bad_envelopes_are_dead_lettered_naming_the_field_and_the_batch_goes_on(tmp_path: Path) -> None:
    """A keyword sent as a number and a truncated record go to siem.dlq as invalid_envelope; good ones alert."""
    stage, bus = _handler(tmp_path)
    numeric_user = orjson.loads(_envelope("e-2", 403)) | {"user": {"id": 42}}
    values = [_envelope("e-1", 403), orjson.dumps(numeric_user), b'{"id": "e-3"', _envelope("e-4", "403")]
    counts = await stage([Message(topic=topics.EVENTS, partition=0, offset=n, value=v) for n, v in enumerate(values)])

    assert counts == {"alerts": 2, "hits": 0, "invalid": 2}
    dead = await read_topic(bus, topics.DLQ)
    assert [m.header("siem.error_type") for m in dead] == [b"invalid_envelope", b"invalid_envelope"]
    assert b"$.user.id" in (dead[0].header("siem.reason") or b"") and dead[0].value == values[1]
    assert dead[1].value == values[2]
    enriched = [orjson.loads(m.value) for m in await read_topic(bus, topics.ENRICHED)]
    assert [(e["id"], [m["id"] for m in e["matches"]]) for e in enriched] == [("e-1", [RULE]), ("e-4", [RULE])]
    alerts = [orjson.loads(m.value) for m in await read_topic(bus, topics.ALERTS)]
    assert [a["event_ids"] for a in alerts] == [["e-1"], ["e-4"]]


async def test_an_event_whose_raw_a_rule_cannot_read_is_dead_lettered(tmp_path: Path) -> None:
    """`raw` is decoded when the rule reads it; a number no double holds then refuses the event, not the rule."""
    stage, bus = _handler(tmp_path)
    unreadable = _envelope("e-2", 403).replace(b'"code":403', b'"code":1e999')
    values = [_envelope("e-1", 403), unreadable, _envelope("e-3", 403)]
    counts = await stage([Message(topic=topics.EVENTS, partition=0, offset=n, value=v) for n, v in enumerate(values)])

    assert counts == {"alerts": 2, "hits": 0, "invalid": 1}
    (dead,) = await read_topic(bus, topics.DLQ)
    assert dead.value == unreadable
    assert (dead.header("siem.reason") or b"").startswith(b"Number out of range - at `$.raw")
    enriched = [orjson.loads(m.value)["id"] for m in await read_topic(bus, topics.ENRICHED)]
    assert enriched == ["e-1", "e-3"]
