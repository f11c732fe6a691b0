"""Ingest's HTTP API over a real aiohttp server and the memory bus: accept, dead-letter, refuse, push back."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY

from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from services.shared import topics
from services.shared.bus import Message, Record
from services.shared.bus.memory import MemoryBus
from services.shared.http import Readiness

Client = TestClient[Any, Any]
MakeClient = Callable[..., Awaitable[Client]]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test alone, not from SIEM_ variables of the machine."""
    for name in list(os.environ):
        if name.startswith("SIEM_"):
            monkeypatch.delenv(name)


@pytest.fixture
def bus() -> MemoryBus:
    return MemoryBus(capacity=100)


@pytest.fixture
def readiness() -> Readiness:
    return Readiness()


@pytest.fixture
async def make_client(bus: MemoryBus, readiness: Readiness) -> AsyncIterator[MakeClient]:
    """Start ingest on 127.0.0.1 with the given settings; the servers stop at the end of the test."""
    clients: list[Client] = []

    async def make(**settings: Any) -> Client:
        client = TestClient(TestServer(create_app(IngestSettings(**settings), bus, readiness), host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def _read(bus: MemoryBus, topic: str) -> list[Message]:
    consumer = bus.consumer("test-reader", [topic])
    await consumer.start()
    return await consumer.getmany(timeout_ms=0, max_records=1000)


def _errors(error_type: str) -> float:
    return REGISTRY.get_sample_value("siem_errors_total", {"stage": "ingest", "error_type": error_type}) or 0.0


async def test_one_object_is_accepted_and_put_on_the_events_topic(make_client: MakeClient, bus: MemoryBus) -> None:
    """POST of one object answers 202 with its id, and its envelope is on siem.events keyed by that id."""
    client = await make_client()
    response = await client.post("/v1/events", data=b'{"id": "evt-1", "message": "hi"}')
    assert response.status == 202
    assert await response.json() == {"accepted": 1, "ids": ["evt-1"], "rejected": []}
    (message,) = await _read(bus, topics.EVENTS)
    envelope = orjson.loads(message.value)
    assert (message.key, envelope["id"], envelope["message"]) == (b"evt-1", "evt-1", "hi")
    assert envelope["raw"] == {"id": "evt-1", "message": "hi"}
    assert envelope["logsource"] == {"product": "generic", "service": None, "category": None}


async def test_ndjson_bad_line_is_reported_and_dead_lettered(make_client: MakeClient, bus: MemoryBus) -> None:
    """NDJSON with a bad line answers 202 listing it; its original bytes go to siem.dlq with reason headers."""
    client = await make_client()
    response = await client.post("/v1/events", data=b'{"id": "a"}\n{broken\n{"id": "c"}\n')
    assert response.status == 202
    body = await response.json()
    assert body["ids"] == ["a", "c"]
    assert [(r["line"], r["error"]) for r in body["rejected"]] == [(2, "malformed_json")]
    assert [orjson.loads(m.value)["id"] for m in await _read(bus, topics.EVENTS)] == ["a", "c"]
    (dead,) = await _read(bus, topics.DLQ)
    assert dead.value == b"{broken"
    assert dead.header("siem.error_type") == b"malformed_json"
    assert (dead.header("siem.reason") or b"").startswith(b"line 2:")


async def test_malformed_json_is_a_400_dead_lettered_and_counted(make_client: MakeClient, bus: MemoryBus) -> None:
    """A body that is not JSON answers 400 malformed_json, lands whole in siem.dlq, and is counted."""
    client = await make_client()
    before = _errors("malformed_json")
    response = await client.post("/v1/events", data=b"{not json at all")
    assert response.status == 400
    body = await response.json()
    assert body["error"] == "malformed_json" and body["reason"]
    (dead,) = await _read(bus, topics.DLQ)
    assert dead.value == b"{not json at all"
    assert await _read(bus, topics.EVENTS) == []
    assert _errors("malformed_json") == before + 1


async def test_empty_array_is_a_client_error_not_a_crash(make_client: MakeClient) -> None:
    """POST of `[]` (no events at all) gets a 4xx answer, never a 500."""
    client = await make_client()
    response = await client.post("/v1/events", data=b"[]")
    assert 400 <= response.status < 500


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_body_over_the_cap_is_a_413(make_client: MakeClient, bus: MemoryBus, chunked: bool) -> None:
    """A body over ingest_max_body_bytes answers 413 body_too_large and is counted, with or without Content-Length."""
    client = await make_client(ingest_max_body_bytes=1024)
    line = b'{"message": "' + b"x" * 100 + b'"}\n'
    body = line * 20

    async def stream() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield line

    before = _errors("body_too_large")
    response = await client.post("/v1/events", data=stream() if chunked else body)
    assert response.status == 413
    assert (await response.json())["error"] == "body_too_large"
    assert _errors("body_too_large") == before + 1
    assert await _read(bus, topics.EVENTS) == []


async def test_too_many_events_is_a_413(make_client: MakeClient, bus: MemoryBus) -> None:
    """More events than ingest_max_batch_events in one request answers 413 batch_too_large and enqueues nothing."""
    client = await make_client(ingest_max_batch_events=2)
    response = await client.post("/v1/events", data=b'{"id": "1"}\n{"id": "2"}\n{"id": "3"}\n')
    assert response.status == 413
    assert (await response.json())["error"] == "batch_too_large"
    assert await _read(bus, topics.EVENTS) == []


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic dG9rLW9sZA==", "Bearer ", "tok-old"], ids=str)
async def test_missing_or_wrong_token_is_a_401(
    make_client: MakeClient, bus: MemoryBus, authorization: str | None
) -> None:
    """With tokens configured, a request without a valid bearer token answers 401 and enqueues nothing."""
    client = await make_client(ingest_tokens=["tok-old", "tok-new"])
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = await client.post("/v1/events", data=b'{"id": "x"}', headers=headers)
    assert response.status == 401
    assert (await response.json())["error"] == "unauthorized"
    assert await _read(bus, topics.EVENTS) == []


@pytest.mark.parametrize("token", ["tok-old", "tok-new"])
async def test_either_rotated_token_is_accepted(make_client: MakeClient, token: str) -> None:
    """Each of two configured tokens (rotation) is accepted."""
    client = await make_client(ingest_tokens=["tok-old", "tok-new"])
    response = await client.post("/v1/events", data=b'{"id": "x"}', headers={"Authorization": f"Bearer {token}"})
    assert response.status == 202


async def test_probes_and_metrics(make_client: MakeClient, readiness: Readiness) -> None:
    """/healthz is 200; /readyz is 503 until readiness is set, then 200; /metrics exposes siem_errors_total."""
    client = await make_client()
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/readyz")).status == 503
    readiness.ready = True
    assert (await client.get("/readyz")).status == 200
    metrics = await client.get("/metrics")
    assert metrics.status == 200
    assert "siem_errors_total" in await metrics.text()


async def test_full_bus_is_a_503_with_retry_after() -> None:
    """When the bus stays full past ingest_enqueue_timeout_seconds, the answer is 503 with Retry-After."""
    full = MemoryBus(capacity=1)
    full.consumer("stuck", [topics.EVENTS])  # registered, never commits
    await full.send(topics.EVENTS, Record(value=b"already here"))
    client = TestClient(
        TestServer(create_app(IngestSettings(ingest_enqueue_timeout_seconds=0.2), full, Readiness()), host="127.0.0.1")
    )
    async with client:
        before = _errors("backpressure")
        response = await client.post("/v1/events", data=b'{"id": "x"}')
        assert response.status == 503
        assert response.headers["Retry-After"].isdigit()
        assert (await response.json())["error"] == "backpressure"
        assert _errors("backpressure") == before + 1
        assert full.backlog(topics.EVENTS) == 1
