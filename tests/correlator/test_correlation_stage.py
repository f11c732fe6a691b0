"""CorrelationHandler over the memory bus: hits in, alerts and chained hits out, bad records dead-lettered by reason."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from services.correlator.correlate import CorrelationEngine
from services.correlator.hits import Hit
from services.correlator.ruleset import RuleSet
from services.correlator.stage import CorrelationHandler
from services.shared import topics
from services.shared.bus import Message
from services.shared.bus.memory import MemoryBus
from tests.memory_bus import read_topic

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FAIL, BURST, WAVE = (str(uuid.uuid5(uuid.NAMESPACE_URL, f"siem-test:stage:{n}")) for n in ("fail", "burst", "wave"))
RULES = f"""\
title: failure
id: {FAIL}
name: fail
logsource: {{product: test}}
detection: {{selection: {{kind: fail}}, condition: selection}}
---
title: burst
id: {BURST}
name: burst
correlation: {{type: event_count, rules: [fail], group-by: [user.name], timespan: 1m, condition: {{gte: 2}}}}
---
title: wave
id: {WAVE}
generate: true
correlation: {{type: event_count, rules: [burst], group-by: [user.name], timespan: 1h, condition: {{gte: 2}}}}
"""


def handler(tmp_path: Path) -> tuple[CorrelationHandler, MemoryBus]:
    (tmp_path / "rules.yml").write_text(RULES, encoding="utf-8")
    rules = RuleSet.load([tmp_path])
    assert [str(e) for e in rules.errors] == []
    bus = MemoryBus(capacity=1000)
    return CorrelationHandler(bus, CorrelationEngine(rules, lateness_seconds=30)), bus


def message(offset: int, value: bytes) -> Message:
    return Message(topic=topics.HITS, partition=0, offset=offset, value=value)


def hit(seconds: float, user: str = "bob") -> bytes:
    moment = T0 + timedelta(seconds=seconds)
    return Hit(
        correlation=BURST, rule=FAIL, time=moment, event_ids=[f"e{seconds}"], group={"user.name": user}
    ).to_json()


async def test_a_bad_hit_is_dead_lettered_with_its_reason_and_the_batch_goes_on(tmp_path: Path) -> None:
    """A hit with a naive time goes to siem.dlq as invalid_hit naming the field; the good hits still alert."""
    stage, bus = handler(tmp_path)
    naive = orjson.loads(hit(1))
    naive["time"] = "2026-03-01T12:00:01"
    counts = await stage(
        [message(0, hit(0)), message(1, orjson.dumps(naive)), message(2, b"not json"), message(3, hit(2))]
    )
    assert counts["alerts"] == 1
    dead = await read_topic(bus, topics.DLQ)
    assert [m.header("siem.error_type") for m in dead] == [b"invalid_hit", b"invalid_hit"]
    assert b"$.time" in (dead[0].header("siem.reason") or b"") and dead[0].value == orjson.dumps(naive)
    assert b"malformed" in (dead[1].header("siem.reason") or b"")


async def test_chained_hits_are_produced_and_read_back(tmp_path: Path) -> None:
    """An inner alert becomes a hit on siem.hits that the handler reads back and counts for the outer correlation."""
    stage, bus = handler(tmp_path)
    await stage([message(n, hit(n)) for n in range(4)])
    chained = await read_topic(bus, topics.HITS)
    assert len(chained) == 2
    assert chained[0].key == Hit.from_json(chained[0].value).key().encode()
    counts = await stage([message(4 + n, m.value) for n, m in enumerate(chained)])
    alerts = [orjson.loads(m.value) for m in await read_topic(bus, topics.ALERTS)]
    assert counts["alerts"] == 1 and [a["rule"]["id"] for a in alerts] == [BURST, BURST, WAVE]
    assert alerts[-1]["count"] == 4 and alerts[-1]["group"] == {"user.name": "bob"}
