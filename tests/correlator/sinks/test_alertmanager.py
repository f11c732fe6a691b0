"""The Alertmanager sink against a real Alertmanager: alerts are read back from its API."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from services.correlator.sinks.alertmanager import AlertmanagerSink
from services.correlator.sinks.settings import SinksSettings
from services.shared.alert import Alert, RuleRef, alert_id
from services.shared.errors import SinkError
from tests.infra import Alertmanager, alerts_in_alertmanager, free_port, wait_until


def _sink(urls: list[str], session: aiohttp.ClientSession, **settings: Any) -> AlertmanagerSink:
    return AlertmanagerSink(SinksSettings(alertmanager_url=urls, **settings), session)


@pytest.fixture
def second_alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    """Another real Alertmanager, not started: the test decides when its peer comes up."""
    peer = Alertmanager("alertmanager.sh", tmp_path / "peer", free_port())
    yield peer
    peer.stop()


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
        await _sink([alertmanager.url], session).send([alert])
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
        sink = _sink([alertmanager.url], session)
        await sink.send([_alert(rule_id)])
        await sink.send([_alert(rule_id)])
    assert len(alerts_in_alertmanager(alertmanager.url, rule_id)) == 1


async def test_an_unreachable_alertmanager_is_a_retriable_failure() -> None:
    """Nothing listening at the URL raises a SinkError that says to retry."""
    async with aiohttp.ClientSession() as session:
        with pytest.raises(SinkError) as raised:
            await _sink([f"http://127.0.0.1:{free_port()}"], session).send([_alert("r")])
    assert raised.value.retriable


async def test_a_refused_alert_is_not_retriable(alertmanager: Alertmanager) -> None:
    """A 4xx from Alertmanager (here: a path it does not serve) is final, not retried forever."""
    async with aiohttp.ClientSession() as session:
        with pytest.raises(SinkError) as raised:
            await _sink([alertmanager.url + "/no-such-prefix"], session).send([_alert("r")])
    assert not raised.value.retriable


async def test_an_alert_resolves_at_its_end_and_stays_resolved_when_resent(alertmanager: Alertmanager) -> None:
    """With endsAt 2 s ahead the alert is active, then resolved (gone from the active list), and re-posts keep it so."""
    rule_id = str(uuid.uuid4())
    async with aiohttp.ClientSession() as session:
        sink = _sink([alertmanager.url], session, alert_active_seconds=2, alertmanager_resend_seconds=0.5)
        await sink.send([_alert(rule_id)])
        [held] = alerts_in_alertmanager(alertmanager.url, rule_id)
        assert held["endsAt"] > held["startsAt"]  # type: ignore[operator]
        stopping = asyncio.Event()
        resending = asyncio.create_task(sink.maintain(stopping))
        try:
            await asyncio.to_thread(
                wait_until, lambda: not alerts_in_alertmanager(alertmanager.url, rule_id), 20, "the alert to resolve"
            )
            await asyncio.sleep(1.5)  # several re-posts of the resolved alert
            assert alerts_in_alertmanager(alertmanager.url, rule_id) == []
            assert len(sink.table) == 1  # still re-posted as resolved for the resolved window
        finally:
            stopping.set()
            await resending


async def test_one_peer_down_does_not_block_and_catches_up_when_it_returns(
    alertmanager: Alertmanager, second_alertmanager: Alertmanager
) -> None:
    """With an HA peer down the alert is delivered to the other; once the peer is up, the re-posts reach it too."""
    rule_id = str(uuid.uuid4())
    async with aiohttp.ClientSession() as session:
        sink = _sink([alertmanager.url, second_alertmanager.url], session, alertmanager_resend_seconds=0.5)
        await sink.send([_alert(rule_id)])
        assert len(alerts_in_alertmanager(alertmanager.url, rule_id)) == 1
        stopping = asyncio.Event()
        resending = asyncio.create_task(sink.maintain(stopping))
        try:
            await asyncio.to_thread(second_alertmanager.start)
            [held] = await asyncio.to_thread(
                wait_until, lambda: alerts_in_alertmanager(second_alertmanager.url, rule_id), 20, "the peer's copy"
            )
            assert held["labels"]["rule_id"] == rule_id  # type: ignore[index]
        finally:
            stopping.set()
            await resending


async def test_every_peer_down_is_retriable() -> None:
    """When no peer answers, the delivery must be retried."""
    async with aiohttp.ClientSession() as session:
        urls = [f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"]
        with pytest.raises(SinkError) as raised:
            await _sink(urls, session).send([_alert("r")])
    assert raised.value.retriable
