"""Ingest over the real Kafka broker: retried audit batches make no new events, an event too large for it is refused."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY

from services.ingest.app import create_app
from services.ingest.settings import MIB, IngestSettings
from services.shared import topics
from services.shared.bus.kafka import MAX_RECORD_BYTES, KafkaBus
from services.shared.http import Readiness
from tests.infra import KafkaBroker
from tests.shared.bus.kafka_helpers import consume, isolated_settings


def _event_list(corpus: Path, size: int) -> bytes:
    """`size` distinct audit events (real ones from audit2rbac, each given its own auditID), as one EventList."""
    templates = [orjson.loads(line) for line in (corpus / "k8s-audit/audit2rbac/demo.log").read_bytes().splitlines()]
    items = [
        {**templates[i % len(templates)], "auditID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"audit-{i}"))}
        for i in range(size)
    ]
    return orjson.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}, "items": items})


async def test_audit_batch_posted_three_times_gives_400_distinct_ids(kafka: KafkaBroker, corpus: Path) -> None:
    """A 400-event EventList posted 3 times (the API server retrying) puts 1,200 messages on siem.events
    carrying exactly 400 distinct ids, one per audit event."""
    settings = IngestSettings(**isolated_settings(kafka.bootstrap).model_dump(), ingest_k8s_audit_tokens=["kube"])
    bus = KafkaBus(settings)
    await bus.start()
    try:
        body = _event_list(corpus, 400)
        async with TestClient(TestServer(create_app(settings, bus, Readiness()), host="127.0.0.1")) as client:
            for _ in range(3):
                response = await client.post("/v1/k8s/audit", data=body, headers={"Authorization": "Bearer kube"})
                assert response.status == 200
                assert (await response.json())["accepted"] == 400
        received = await consume(bus, "ingest-retry-test", topics.EVENTS, expected=1200)
    finally:
        await bus.close()
    assert len(received) == 1200
    ids = [orjson.loads(m.value)["id"] for m in received]
    assert len(set(ids)) == 400
    # Unkeyed: the id identifies an event; each request's events leave as one batch, not hashed one by one.
    assert {m.key for m in received} == {None}


TOO_LARGE = {"stage": "ingest", "error_type": "event_too_large"}


async def test_an_event_too_large_for_the_bus_is_a_413_and_the_next_request_goes_through(kafka: KafkaBroker) -> None:
    """Under a body cap raised past the bus's record limit, an event over that limit is refused with a JSON
    reason and counted, nothing of it reaches Kafka, and the partition keeps taking events."""
    raised_cap: dict[str, Any] = {"ingest_max_body_bytes": 12 * MIB, "ingest_tokens": ["tok"]}
    settings = IngestSettings(**isolated_settings(kafka.bootstrap).model_dump(), **raised_cap)
    bus = KafkaBus(settings)
    await bus.start()
    bearer = {"Authorization": "Bearer tok"}
    try:
        async with TestClient(TestServer(create_app(settings, bus, Readiness()), host="127.0.0.1")) as client:
            before = REGISTRY.get_sample_value("siem_errors_total", TOO_LARGE)
            huge = orjson.dumps({"id": "huge", "message": "x" * (MAX_RECORD_BYTES + 1)})
            response = await client.post("/v1/events", data=huge, headers=bearer)
            assert response.status == 413
            assert (await response.json())["error"] == "event_too_large"
            after = REGISTRY.get_sample_value("siem_errors_total", TOO_LARGE)
            assert (after or 0) == (before or 0) + 1
            response = await client.post("/v1/events", data=b'{"id": "small"}', headers=bearer)
            assert response.status == 202
        received = await consume(bus, "ingest-large-test", topics.EVENTS, expected=1, timeout=20)
    finally:
        await bus.close()
    assert [orjson.loads(m.value)["id"] for m in received] == ["small"]
