"""One event from HTTP to an alert in a real Alertmanager: embedded (`siem run all`) and over real Kafka."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import orjson
import pytest

from services.shared.bus.kafka import KafkaBus
from tests.infra import Alertmanager, KafkaBroker, SiemProcess, alerts_in_alertmanager, http_json, wait_until
from tests.shared.bus.kafka_helpers import consume, isolated_settings

RULE = """\
title: End to end {marker}
id: {rule_id}
status: test
description: Matches the one event the end-to-end test posts.
logsource:
  product: generic
detection:
  selection:
    event.action: {marker}
    user.name: alice
  condition: selection
level: high
tags:
  - attack.t1078
"""


@pytest.fixture
def rule(tmp_path: Path) -> tuple[Path, str, str]:
    """A rules folder with one rule that only this test's event can match."""
    marker, rule_id = f"e2e-{uuid.uuid4().hex[:12]}", str(uuid.uuid4())
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "e2e.yml").write_text(RULE.format(marker=marker, rule_id=rule_id))
    return folder, marker, rule_id


def _post_event(ingest_url: str, marker: str) -> str:
    event = {"time": "2026-11-26T06:00:00Z", "event": {"action": marker}, "user": {"name": "Alice"}}
    status, answer = http_json("POST", ingest_url + "/v1/events", orjson.dumps(event))
    assert status == 202, answer
    assert isinstance(answer, dict)
    return str(answer["ids"][0])


def _wait_for_alert(am: Alertmanager, rule_id: str, event_id: str) -> dict[str, object]:
    [alert] = wait_until(lambda: alerts_in_alertmanager(am.url, rule_id), 60, f"the alert of rule {rule_id}")
    assert alert["labels"]["severity"] == "high"  # type: ignore[index]
    assert event_id in alert["annotations"]["event_ids"]  # type: ignore[index]
    return alert


def test_embedded_mode_delivers_an_alert_to_alertmanager(
    tmp_path: Path, alertmanager: Alertmanager, rule: tuple[Path, str, str], processes: list[SiemProcess]
) -> None:
    """`siem run all` turns a posted event into an alert Alertmanager holds, and exits 0 on SIGTERM."""
    rules_dir, marker, rule_id = rule
    siem = SiemProcess(
        "all",
        {"SIEM_RULES_DIRS": str(rules_dir), "SIEM_ALERTMANAGER_URL": alertmanager.url, "SIEM_VAR_DIR": str(tmp_path)},
        tmp_path / "siem.log",
    )
    processes.append(siem)
    siem.wait_ready("ingest")
    event_id = _post_event(siem.url("ingest"), marker)
    _wait_for_alert(alertmanager, rule_id, event_id)
    assert siem.terminate() == 0, siem.log()


def test_embedded_mode_without_sinks_writes_alerts_file(
    tmp_path: Path, rule: tuple[Path, str, str], processes: list[SiemProcess]
) -> None:
    """Without remote sinks, the alert lands in var/alerts.jsonl and on the console, the event in var/events.jsonl."""
    rules_dir, marker, rule_id = rule
    siem = SiemProcess(
        "all", {"SIEM_RULES_DIRS": str(rules_dir), "SIEM_VAR_DIR": str(tmp_path / "var")}, tmp_path / "siem.log"
    )
    processes.append(siem)
    siem.wait_ready("ingest")
    event_id = _post_event(siem.url("ingest"), marker)
    alerts_file = tmp_path / "var" / "alerts.jsonl"
    line = wait_until(lambda: alerts_file.exists() and alerts_file.read_text(), 30, "the alerts file")
    alert = orjson.loads(line.splitlines()[0])
    assert alert["rule"]["id"] == rule_id and alert["event_ids"] == [event_id]
    assert alert["first_seen"] == "2026-11-26T06:00:00Z"
    assert siem.terminate() == 0
    assert f"ALERT [high] End to end {marker}" in siem.log()
    [event] = [orjson.loads(line) for line in (tmp_path / "var" / "events.jsonl").read_text().splitlines()]
    assert event["id"] == event_id and [m["id"] for m in event["matches"]] == [rule_id]


def test_over_kafka_an_event_becomes_an_alert_and_bad_input_is_dead_lettered(
    tmp_path: Path,
    kafka: KafkaBroker,
    alertmanager: Alertmanager,
    rule: tuple[Path, str, str],
    processes: list[SiemProcess],
) -> None:
    """ingest, correlator and sinks as separate processes over real Kafka deliver the alert; junk lands in siem.dlq."""
    rules_dir, marker, rule_id = rule
    prefix = f"e2e{uuid.uuid4().hex[:8]}."
    env = {
        "SIEM_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "SIEM_KAFKA_TOPIC_PREFIX": prefix,
        "SIEM_RULES_DIRS": str(rules_dir),
        "SIEM_ALERTMANAGER_URL": alertmanager.url,
    }
    for stage in ("ingest", "correlator", "sinks"):
        processes.append(SiemProcess(stage, env, tmp_path / f"{stage}.log"))
    ingest, correlator, sinks = processes
    ingest.wait_ready("ingest")
    correlator.wait_ready("correlator")
    sinks.wait_ready("sinks")

    event_id = _post_event(ingest.url("ingest"), marker)
    _wait_for_alert(alertmanager, rule_id, event_id)

    status, answer = http_json("POST", ingest.url("ingest") + "/v1/events", b'{"not json')
    assert status == 400 and answer["error"] == "malformed_json"  # type: ignore[index]
    dead = asyncio.run(_read_dlq(kafka.bootstrap, prefix))
    assert dead.value == b'{"not json'
    assert dead.header("siem.error_type") == b"malformed_json"

    for process in processes:
        assert process.terminate() == 0, process.log()


async def _read_dlq(bootstrap: str, prefix: str):  # type: ignore[no-untyped-def]
    bus = KafkaBus(isolated_settings(bootstrap, prefix))
    await bus.start()
    try:
        [message] = await consume(bus, "dlq-reader", "siem.dlq", expected=1)
    finally:
        await bus.close()
    return message


def test_sigterm_in_embedded_mode_drains_every_accepted_event(
    tmp_path: Path, rule: tuple[Path, str, str], processes: list[SiemProcess]
) -> None:
    """Events accepted (202) just before SIGTERM all become alerts before the process exits 0."""
    rules_dir, marker, _ = rule
    siem = SiemProcess(
        "all", {"SIEM_RULES_DIRS": str(rules_dir), "SIEM_VAR_DIR": str(tmp_path / "var")}, tmp_path / "siem.log"
    )
    processes.append(siem)
    siem.wait_ready("ingest")
    batch = b"\n".join(
        orjson.dumps({"id": f"drain-{i}", "event": {"action": marker}, "user": {"name": "alice"}}) for i in range(2000)
    )
    status, answer = http_json("POST", siem.url("ingest") + "/v1/events", batch)
    assert status == 202 and answer["accepted"] == 2000  # type: ignore[index]
    assert siem.terminate() == 0, siem.log()
    lines = (tmp_path / "var" / "alerts.jsonl").read_text().splitlines()
    assert sorted(orjson.loads(line)["event_ids"][0] for line in lines) == sorted(f"drain-{i}" for i in range(2000))
