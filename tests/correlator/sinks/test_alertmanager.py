"""The Alertmanager sink against a real Alertmanager: alerts are read back from its API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import aiohttp
import pytest

from services.correlator.sinks.alertmanager import AlertmanagerSink
from services.shared.alert import Alert, RuleRef, alert_id
from services.shared.errors import SinkError
from tests.infra import Alertmanager, alerts_in_alertmanager, free_port


def _alert(rule_id: str) -> Alert:
    now = datetime.now(UTC)
    return Alert(
        id=alert_id(rule_id, {"source.ip": "203.0.113.7"}, ["e1"]),
        rule=RuleRef(id=rule_id, title="Sink test", level="high", tags=["attack.t1110"]),
        group={"source.ip": "203.0.113.7"},
        count=3,
        first_seen=now,
        last_seen=now,
        event_ids=["e1", "e2", "e3"],
        hunt='{module="system"} | json',
    )


async def test_alert_posted_is_held_by_alertmanager_with_stable_labels(alertmanager: Alertmanager) -> None:
    """An alert sent through the sink is returned by GET /api/v2/alerts with our labels and annotations."""
    rule_id = str(uuid.uuid4())
    alert = _alert(rule_id)
    async with aiohttp.ClientSession() as session:
        await AlertmanagerSink([alertmanager.url], session).send([alert])
    [held] = alerts_in_alertmanager(alertmanager.url, rule_id)
    assert held["labels"] == {
        "alertname": "Sink test",
        "rule_id": rule_id,
        "severity": "high",
        "source_ip": "203.0.113.7",
    }
    assert held["annotations"]["alert_id"] == alert.id  # type: ignore[index]
    assert held["status"]["state"] == "active"  # type: ignore[index]


async def test_the_same_alert_sent_twice_is_one_alert_in_alertmanager(alertmanager: Alertmanager) -> None:
    """A redelivered alert merges with the first one: Alertmanager deduplicates on our labels."""
    rule_id = str(uuid.uuid4())
    async with aiohttp.ClientSession() as session:
        sink = AlertmanagerSink([alertmanager.url], session)
        await sink.send([_alert(rule_id)])
        await sink.send([_alert(rule_id)])
    assert len(alerts_in_alertmanager(alertmanager.url, rule_id)) == 1


async def test_an_unreachable_alertmanager_is_a_retriable_failure() -> None:
    """Nothing listening at the URL raises a SinkError that says to retry."""
    async with aiohttp.ClientSession() as session:
        with pytest.raises(SinkError) as raised:
            await AlertmanagerSink([f"http://127.0.0.1:{free_port()}"], session).send([_alert("r")])
    assert raised.value.retriable


async def test_a_refused_alert_is_not_retriable(alertmanager: Alertmanager) -> None:
    """A 4xx from Alertmanager (here: a path it does not serve) is final, not retried forever."""
    async with aiohttp.ClientSession() as session:
        with pytest.raises(SinkError) as raised:
            await AlertmanagerSink([alertmanager.url + "/no-such-prefix"], session).send([_alert("r")])
    assert not raised.value.retriable
