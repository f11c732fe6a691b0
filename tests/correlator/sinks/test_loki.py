"""The Loki sink against a real Loki (built from its Go module), behind a gateway that can fail on demand.

Every test writes under a tenant of its own and reads back through Loki's query API.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from pydantic import SecretStr

from services.correlator.hunt import hunt_query
from services.correlator.sinks.loki import LokiSink, timestamp_ns
from services.correlator.sinks.record import record_of
from services.correlator.sinks.settings import SinksSettings
from services.shared.alert import RuleRef
from services.shared.errors import ConfigError, SinkError
from services.shared.event import EnrichedEvent
from services.shared.loki.codec import Entry, Stream, encode_protobuf
from tests.infra import SiemProcess, free_port, http_json, wait_until
from tests.loki.gateway import LokiGateway
from tests.loki.loki_service import BULK_TENANT, SLOW_TENANT, LokiService, count_entries, query_range

RULE = RuleRef(id="r-1", title="Failed root login", level="high")


def _events(n: int, **changes: Any) -> list[EnrichedEvent]:
    now = datetime.now(UTC)
    return [
        EnrichedEvent(
            id=f"evt-{i}",
            time=now + timedelta(milliseconds=i),
            ingested=now,
            event={"module": "system", "dataset": "system.auth"},
            logsource={"product": "linux", "service": "sshd"},
            labels={"env": "prod"},
            matches=[RULE] if i % 2 else [],
            **changes,
        )
        for i in range(n)
    ]


async def _send(url: str, tenant: str, events: list[EnrichedEvent], **settings: Any) -> None:
    async with aiohttp.ClientSession() as session:
        sink = LokiSink(SinksSettings(loki_url=url, loki_tenant=tenant, **settings), session)
        await sink.send([record_of(e) for e in events])


def _stored(loki: LokiGateway, tenant: str, query: str = '{module="system"}') -> list[str]:
    return [orjson.loads(e.line)["id"] for e in query_range(loki.loki_url, tenant, query)]


@pytest.mark.parametrize(
    ("body_format", "content"), [("protobuf", ("application/x-protobuf", "")), ("json", ("application/json", "gzip"))]
)
async def test_every_event_arrives_in_both_formats(
    loki: LokiGateway, tenant: str, body_format: str, content: tuple[str, str]
) -> None:
    """Snappy protobuf (the default) and gzip JSON: Loki stores every event once, under the documented labels."""
    events = _events(20)
    await _send(loki.url, tenant, events, loki_format=body_format)
    assert loki.stats[f"content_type={content[0]}"] and loki.stats[f"content_encoding={content[1]}"]
    stored = query_range(loki.loki_url, tenant, '{module="system"}')
    assert sorted(orjson.loads(e.line)["id"] for e in stored) == sorted(e.id for e in events)
    high = next(e.labels for e in stored if e.labels["level"] == "high")
    assert {k: v for k, v in high.items() if k in ("module", "dataset", "level", "product", "service", "env")} == {
        "module": "system",
        "dataset": "system.auth",
        "level": "high",
        "product": "linux",
        "service": "sshd",
        "env": "prod",
    }
    assert high["rule_ids"] == "r-1"  # structured metadata, returned beside the labels


async def test_the_same_events_twice_are_stored_once(loki: LokiGateway, tenant: str) -> None:
    """A redelivered batch (a crash before the commit) adds nothing: same stream, timestamp and line."""
    events = _events(10)
    await _send(loki.url, tenant, events)
    await _send(loki.url, tenant, events, loki_format="json")
    assert loki.stats["entries_accepted"] == 20
    assert sorted(_stored(loki, tenant)) == sorted(e.id for e in events)


async def test_a_large_batch_goes_in_several_pushes(loki: LokiGateway, tenant: str) -> None:
    """With loki_batch_max_bytes=4096, 100 events take several pushes and all arrive."""
    await _send(loki.url, tenant, _events(100), loki_batch_max_bytes=4096)
    assert loki.stats["pushes_accepted"] > 1
    assert len(_stored(loki, tenant)) == 100


async def test_pushes_at_the_largest_batch_setting_fit_lokis_message_limit(loki: LokiGateway) -> None:
    """At SIEM_LOKI_BATCH_MAX_BYTES' maximum (4 MiB), a 6 MiB batch with metadata goes in pushes Loki's ingesters take.

    Counting lines alone, the first push came to 4.2 MB of PushRequest: Loki answered 500 (over its 4 MiB gRPC
    limit) for ever. The bulk tenant's rate limit is raised, so only the message size is under test here.
    """
    env = f"e{uuid.uuid4().hex[:10]}"
    padded = {"labels": {"env": env}, "raw": {"padding": "x" * 2000}}
    events = [event.model_copy(update=padded) for event in _events(3000)]
    await _send(loki.url, BULK_TENANT, events, loki_batch_max_bytes=4 * 1024 * 1024)
    assert loki.stats["pushes_accepted"] == 2
    # Counted, not read back: Loki here takes over a minute to return 6 MB of lines.
    assert count_entries(loki.loki_url, BULK_TENANT, f'{{env="{env}"}}') == 3000


async def test_events_belong_to_the_configured_tenant(loki: LokiGateway, tenant: str) -> None:
    """X-Scope-OrgID comes from SIEM_LOKI_TENANT: the events are in that tenant and in no other."""
    await _send(loki.url, tenant, _events(3))
    assert len(_stored(loki, tenant)) == 3
    assert _stored(loki, tenant + "-other") == []


async def test_basic_auth_and_bearer_reach_the_gateway(loki_service: LokiService, tenant: str) -> None:
    """Basic-auth and bearer credentials from settings pass a gateway that checks them; wrong ones are refusals."""
    basic = LokiGateway(loki_service.url, basic_auth=("siem", "pw-1")).start()
    bearer = LokiGateway(loki_service.url, bearer="tok-1").start()
    try:
        await _send(basic.url, tenant, _events(2), loki_username="siem", loki_password=SecretStr("pw-1"))
        await _send(bearer.url, tenant, _events(2), loki_bearer_token=SecretStr("tok-1"))
        assert basic.stats["pushes_accepted"] == bearer.stats["pushes_accepted"] == 1
        with pytest.raises(SinkError) as refused:
            await _send(basic.url, tenant, _events(1), loki_username="siem", loki_password=SecretStr("wrong"))
        assert not refused.value.retriable and "401" in refused.value.reason
    finally:
        basic.stop()
        bearer.stop()


def test_basic_auth_and_bearer_together_are_refused_at_start() -> None:
    """Configuring both kinds of Loki credentials is a ConfigError naming the variable."""
    with pytest.raises(ConfigError) as raised:
        SinksSettings(loki_url="http://x", loki_username="u", loki_password="p", loki_bearer_token="t")
    assert raised.value.key == "SIEM_LOKI_BEARER_TOKEN"


async def test_lokis_rate_limit_is_retriable(loki: LokiGateway) -> None:
    """Over the tenant's ingestion rate, Loki answers 429 and the sink says to retry."""
    with pytest.raises(SinkError) as raised:
        await _send(loki.url, SLOW_TENANT, _events(1, raw="x" * 30_000))
    assert raised.value.retriable
    assert "429" in raised.value.reason and "ingestion rate limit exceeded" in raised.value.reason.lower()


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_retriable(loki: LokiGateway, tenant: str, status: int) -> None:
    """5xx from Loki or its gateway raise a retriable SinkError carrying the status."""
    loki.fail(status)
    with pytest.raises(SinkError) as raised:
        await _send(loki.url, tenant, _events(1))
    assert raised.value.retriable and str(status) in raised.value.reason


async def test_a_message_over_lokis_grpc_limit_is_a_refusal_not_a_retry(loki: LokiGateway) -> None:
    """Loki's 500 for a PushRequest over its ingesters' limit never heals: refused, so the batch goes in parts.

    The push is posted as a Loki with a lower limit than the sink's setting would get it (the sink's own
    pushes stay within 4 MiB, above).
    """
    padding = "x" * 4096
    entries = [
        Entry(timestamp_ns(datetime.now(UTC)) + i, f'{{"id": "big-{i}", "p": "{padding}"}}') for i in range(1100)
    ]
    body = encode_protobuf([Stream({"module": "system"}, entries)])
    async with aiohttp.ClientSession() as session:
        sink = LokiSink(SinksSettings(loki_url=loki.url, loki_tenant=BULK_TENANT), session)
        with pytest.raises(SinkError) as raised:
            await sink._post(body)
    assert not raised.value.retriable and "500" in raised.value.reason and "larger than max" in raised.value.reason


async def test_other_4xx_are_refusals_with_lokis_reason(loki: LokiGateway, tenant: str) -> None:
    """An entry Loki refuses (older than its 7-day limit) is a non-retriable SinkError quoting Loki's reason."""
    [old] = [e.model_copy(update={"time": datetime.now(UTC) - timedelta(days=8)}) for e in _events(1)]
    with pytest.raises(SinkError) as raised:
        await _send(loki.url, tenant, [old])
    assert not raised.value.retriable
    assert "400" in raised.value.reason and "too old" in raised.value.reason


async def test_unreachable_loki_is_retriable(tenant: str) -> None:
    """Nothing listening is a retriable failure."""
    with pytest.raises(SinkError) as raised:
        await _send(f"http://127.0.0.1:{free_port()}", tenant, _events(1))
    assert raised.value.retriable


async def test_an_oversize_event_is_truncated_and_taken(loki: LokiGateway, tenant: str) -> None:
    """A 400 KB raw payload, over Loki's 256 KB line limit, is stored cut and marked, still JSON with its id."""
    [event] = _events(1, raw={"blob": "B" * 400_000})
    await _send(loki.url, tenant, [event])
    [stored] = query_range(loki.loki_url, tenant, '{module="system"}')
    assert len(stored.line.encode()) <= 256 * 1024
    document = orjson.loads(stored.line)
    assert document["id"] == event.id and document["truncated"]["original_bytes"] > 400_000


async def test_an_alerts_hunt_query_finds_its_events(loki: LokiGateway, tenant: str) -> None:
    """The LogQL an alert carries (hunt.py), run by Loki, selects exactly the events it names."""
    events = _events(10)
    await _send(loki.url, tenant, events)
    wanted = [events[1].id, events[6].id]
    assert sorted(_stored(loki, tenant, hunt_query(["system"], wanted))) == sorted(wanted)


def test_embedded_pipeline_with_loki_url_sends_events_to_loki_not_to_the_file(
    loki: LokiGateway, tenant: str, tmp_path: Path
) -> None:
    """`siem run all` with SIEM_LOKI_URL: a posted event lands in Loki, no events.jsonl is written, exit 0."""
    env = {"SIEM_LOKI_URL": loki.url, "SIEM_LOKI_TENANT": tenant, "SIEM_VAR_DIR": str(tmp_path / "var")}
    siem = SiemProcess("all", env, tmp_path / "siem.log")
    try:
        siem.wait_ready("ingest")
        status, answer = http_json("POST", siem.url("ingest") + "/v1/events", b'{"event": {"action": "x"}}')
        assert status == 202 and isinstance(answer, dict)
        wait_until(lambda: _stored(loki, tenant, '{module="generic"}'), 30, "the event in Loki")
        assert _stored(loki, tenant, '{module="generic"}') == answer["ids"]
    finally:
        assert siem.terminate() == 0, siem.log()
    assert not (tmp_path / "var" / "events.jsonl").exists()
    logs = wait_until(lambda: query_range(loki.loki_url, tenant, '{app="siem"}'), 30, "the service's own logs")
    assert {e.labels["component"] for e in logs} == {"siem-all"}
