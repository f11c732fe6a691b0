"""Ingest's HTTP API over a real aiohttp server and the memory bus: accept, dead-letter, refuse, push back."""

from __future__ import annotations

import base64
import gzip
from collections.abc import AsyncIterator

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY

from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from services.shared import topics
from services.shared.bus import Message, Record
from services.shared.bus.memory import MemoryBus
from services.shared.event import Event
from services.shared.http import Readiness
from tests.ingest.conftest import MakeClient
from tests.memory_bus import read_topic


async def _read(bus: MemoryBus, topic: str) -> list[Message]:
    return await read_topic(bus, topic)


def _errors(error_type: str) -> float:
    return REGISTRY.get_sample_value("siem_errors_total", {"stage": "ingest", "error_type": error_type}) or 0.0


async def test_one_object_is_accepted_and_put_on_the_events_topic(make_client: MakeClient, bus: MemoryBus) -> None:
    """POST of one object answers 202 with its id, and its envelope is on siem.events (unkeyed: the id is inside)."""
    client = await make_client()
    response = await client.post("/v1/events", data=b'{"id": "evt-1", "message": "hi"}')
    assert response.status == 202
    assert await response.json() == {"accepted": 1, "ids": ["evt-1"], "rejected": []}
    (message,) = await _read(bus, topics.EVENTS)
    envelope = orjson.loads(message.value)
    assert (message.key, envelope["id"], envelope["message"]) == (None, "evt-1", "hi")
    assert envelope["raw"] == {"id": "evt-1", "message": "hi"}
    assert envelope["logsource"] == {"product": "generic"}  # null fields are left out
    assert "user" not in envelope and Event.model_validate_json(message.value).user is None


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


K8S_BATCH = {
    "kind": "EventList",
    "apiVersion": "audit.k8s.io/v1",
    "items": [
        {"kind": "Event", "auditID": "a-1", "stage": "ResponseComplete", "verb": "get", "user": {"username": "u"}},
        {"kind": "Event", "auditID": "a-2", "stage": "Nonsense", "verb": "get", "user": {"username": "u"}},
    ],
}


async def test_k8s_audit_answers_200_and_dead_letters_the_bad_item(make_client: MakeClient, bus: MemoryBus) -> None:
    """/v1/k8s/audit answers 200 (what the API server expects); a bad item is dead-lettered, the rest enqueued."""
    client = await make_client(ingest_k8s_audit_tokens=["kube"])
    response = await client.post(
        "/v1/k8s/audit", data=orjson.dumps(K8S_BATCH), headers={"Authorization": "Bearer kube"}
    )
    assert response.status == 200
    body = await response.json()
    assert body["accepted"] == 1 and [(r["line"], r["error"]) for r in body["rejected"]] == [(2, "invalid_audit_event")]
    (event,) = [orjson.loads(m.value) for m in await _read(bus, topics.EVENTS)]
    assert event["logsource"]["product"] == "kubernetes" and event["raw"]["auditID"] == "a-1"
    (dead,) = await _read(bus, topics.DLQ)
    assert orjson.loads(dead.value)["stage"] == "Nonsense"
    assert dead.header("siem.source") == b"k8s_audit"


async def test_each_source_has_its_own_tokens(make_client: MakeClient) -> None:
    """A source's own tokens open only that source; a source without any falls back to ingest_tokens."""
    client = await make_client(ingest_tokens=["shared"], ingest_k8s_audit_tokens=["kube-1", "kube-2"])
    audit = orjson.dumps(K8S_BATCH["items"][0])  # type: ignore[index]
    jenkins = b'{"name": "app", "build": {"number": 1, "phase": "STARTED"}}'
    assert (await client.post("/v1/k8s/audit", data=audit, headers={"Authorization": "Bearer kube-2"})).status == 200
    assert (await client.post("/v1/k8s/audit", data=audit, headers={"Authorization": "Bearer shared"})).status == 401
    assert (await client.post("/v1/events", data=b"{}", headers={"Authorization": "Bearer kube-1"})).status == 401
    assert (await client.post("/v1/jenkins", data=jenkins, headers={"Authorization": "Bearer shared"})).status == 202


async def test_jenkins_notification_with_basic_auth_from_its_url(make_client: MakeClient, bus: MemoryBus) -> None:
    """The Notification plugin sends a URL's `user:token@` as HTTP Basic: the password is checked as a token."""
    client = await make_client(ingest_jenkins_tokens=["jenkins-token"])
    body = b'{"name": "app", "url": "job/app/", "build": {"full_url": "http://ci/job/app/7/", "number": 7, "phase": "COMPLETED", "status": "FAILURE"}}'  # noqa: E501

    def basic(user_info: bytes) -> dict[str, str]:  # as the plugin builds it from http://user:token@host/…
        return {"Authorization": "Basic " + base64.b64encode(user_info).decode()}

    response = await client.post("/v1/jenkins", data=body, headers=basic(b"siem:jenkins-token"))
    assert response.status == 202
    assert (await response.json())["accepted"] == 1
    assert (await client.post("/v1/jenkins", data=body, headers=basic(b"siem:wrong"))).status == 401
    (event,) = [orjson.loads(m.value) for m in await _read(bus, topics.EVENTS)]
    assert (event["event"]["action"], event["event"]["outcome"]) == ("build_completed", "failure")


async def test_rate_limit_is_per_token_with_retry_after(make_client: MakeClient, bus: MemoryBus) -> None:
    """Past its burst a token gets 429 with Retry-After and nothing is enqueued; another token still passes."""
    client = await make_client(ingest_tokens=["a", "b"], ingest_rate_limit="2/minute")
    statuses = [
        (await client.post("/v1/events", data=b'{"id": "x"}', headers={"Authorization": "Bearer a"})).status
        for _ in range(3)
    ]
    assert statuses == [202, 202, 429]
    limited = await client.post("/v1/events", data=b'{"id": "y"}', headers={"Authorization": "Bearer a"})
    assert limited.status == 429 and int(limited.headers["Retry-After"]) >= 1
    assert (await limited.json())["error"] == "rate_limited"
    assert (await client.post("/v1/events", data=b'{"id": "z"}', headers={"Authorization": "Bearer b"})).status == 202
    assert [orjson.loads(m.value)["id"] for m in await _read(bus, topics.EVENTS)] == ["x", "x", "z"]


async def test_gzip_request_body_is_read(make_client: MakeClient, bus: MemoryBus) -> None:
    """A gzip Content-Encoding body (Fluent Bit, curl --compressed) is read decompressed."""
    client = await make_client()
    response = await client.post(
        "/v1/events", data=gzip.compress(b'{"id": "gz"}'), headers={"Content-Encoding": "gzip"}
    )
    assert response.status == 202
    assert [orjson.loads(m.value)["id"] for m in await _read(bus, topics.EVENTS)] == ["gz"]
