"""Over the real Kafka broker: a correlation window survives its partition moving to another instance."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from aiokafka.admin import AIOKafkaAdminClient

from services.shared.bus import Record
from services.shared.bus.kafka import KafkaBus
from tests.correlator.brute_force import ssh_brute_force_rules
from tests.infra import KafkaBroker, SiemProcess, wait_until
from tests.shared.bus.kafka_helpers import consume, isolated_settings


def _failure(number: int, moment: datetime) -> Record:
    event = {
        "id": f"fail-{number}",
        "time": moment.isoformat(),
        "ingested": moment.isoformat(),
        "event": {"module": "system", "outcome": "failure"},
        "logsource": {"product": "linux", "service": "sshd"},
        "source": {"ip": "203.0.113.7"},
    }
    return Record(value=orjson.dumps(event), key=f"fail-{number}".encode())


async def _committed(bootstrap: str, group: str, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset > 0)


def test_a_window_rebuilt_after_its_partition_moves_fires_exactly_once(kafka: KafkaBroker, tmp_path: Path) -> None:
    """3 hits seen by instance A, A stops, 2 more reach instance B: B rebuilt the window and alerts once."""
    correlation_id = str(uuid.uuid4())
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "brute.yml").write_text(ssh_brute_force_rules(correlation_id, threshold=5))
    settings = isolated_settings(kafka.bootstrap)
    prefix = settings.kafka_topic_prefix
    env = {
        "SIEM_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "SIEM_KAFKA_TOPIC_PREFIX": prefix,
        "SIEM_RULES_DIRS": str(rules),
        "SIEM_RULES_RELOAD": "false",
    }
    start = datetime.now(UTC) - timedelta(seconds=30)
    bus = KafkaBus(settings)
    instances: list[SiemProcess] = []
    try:
        first = SiemProcess("correlator", env, tmp_path / "a.log")
        instances.append(first)
        first.wait_ready("correlator")
        asyncio.run(_send(bus, [_failure(n, start + timedelta(seconds=n)) for n in range(3)]))
        wait_until(
            lambda: (
                asyncio.run(_committed(kafka.bootstrap, prefix + "siem-correlator-windows", prefix + "siem.hits")) == 3
            ),
            60,
            "instance A to process and commit the first 3 hits",
        )
        second = SiemProcess("correlator", env, tmp_path / "b.log")
        instances.append(second)
        second.wait_ready("correlator")
        assert first.terminate() == 0, first.log()  # every partition, with its window, moves to B

        asyncio.run(_send(bus, [_failure(n, start + timedelta(seconds=n)) for n in range(3, 5)]))
        alerts = asyncio.run(_alerts(bus, expected=1))
        wait_until(lambda: "partition_rewound" in second.log(), 30, "instance B to rebuild from siem.hits")
        after = asyncio.run(_alerts(bus, expected=2, timeout=8))  # nothing more may arrive
    finally:
        for instance in instances:
            instance.terminate()
    assert [a["rule"]["id"] for a in alerts] == [correlation_id]
    assert alerts[0]["count"] == 5 and alerts[0]["group"] == {"source.ip": "203.0.113.7"}
    assert sorted(alerts[0]["event_ids"]) == sorted(f"fail-{n}" for n in range(5))
    assert len(after) == 1, "the alert must fire exactly once"


async def _send(bus: KafkaBus, records: list[Record]) -> None:
    await bus.start()
    try:
        await bus.send_many("siem.events", records)
    finally:
        await bus.close()


async def _alerts(bus: KafkaBus, expected: int, timeout: float = 90) -> list[dict[str, object]]:
    await bus.start()
    try:
        messages = await consume(bus, f"reader-{uuid.uuid4().hex[:6]}", "siem.alerts", expected, timeout)
    finally:
        await bus.close()
    return [orjson.loads(m.value) for m in messages]
