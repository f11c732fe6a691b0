"""The receiver's HTTP contract over a real server: what it refuses (and counts), deduplicates, and pushes back."""

from __future__ import annotations

import time
import urllib.parse
import uuid
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from structlog.testing import capture_logs

from services.shared import topics
from services.shared.bus.kafka import KafkaBus
from services.shared.bus.memory import MemoryBus
from services.shared.http import Readiness
from services.shared.settings import CommonSettings
from services.webhook.app import create_app
from services.webhook.providers.github import GitHubProvider
from services.webhook.settings import WebhookSettings
from tests.webhook.conftest import MakeClient, read_topic, sample
from tests.webhook.hooks import (
    GITHUB_SECRET,
    GITLAB_SIGNING_KEY,
    GITLAB_SIGNING_TOKEN,
    TEST_SETTINGS,
    gitea_headers,
    github_headers,
    gitlab_headers,
    standard_signature,
)

BODY = orjson.dumps({"action": "opened", "sender": {"login": "octocat"}, "repository": {"full_name": "o/r"}})


def _refusals(reason: str, provider: str = "github") -> float:
    return sample("siem_webhook_refusals_total", provider=provider, reason=reason)


def _errors(reason: str) -> float:
    return sample("siem_errors_total", stage="webhook", error_type=reason)


async def _assert_refused(
    client: Any, bus: MemoryBus, status: int, reason: str, provider: str = "github", **request: Any
) -> dict[str, Any]:
    """Post `request`, expect `status` with `reason`, counted once, and nothing on siem.events."""
    before, errors_before = _refusals(reason, provider), _errors(reason)
    response = await client.request(request.pop("method", "POST"), f"/webhook/{provider}", **request)
    answer: dict[str, Any] = await response.json()
    assert (response.status, answer["error"]) == (status, reason), answer
    assert _refusals(reason, provider) == before + 1
    assert _errors(reason) == errors_before + 1
    assert await read_topic(bus, topics.EVENTS) == []
    return answer


async def test_a_wrong_signature_is_refused_and_counted(make_client: MakeClient, bus: MemoryBus) -> None:
    """A signature made with another secret is 401 signature_mismatch."""
    client = await make_client()
    headers = github_headers(BODY, "pull_request", secret=b"not-the-secret")
    await _assert_refused(client, bus, 401, "signature_mismatch", data=BODY, headers=headers)


async def test_a_missing_signature_header_is_refused(make_client: MakeClient, bus: MemoryBus) -> None:
    """Without X-Hub-Signature-256 the answer is 401 missing_signature, never an accepted event."""
    client = await make_client()
    headers = github_headers(BODY, "pull_request")
    del headers["X-Hub-Signature-256"]
    await _assert_refused(client, bus, 401, "missing_signature", data=BODY, headers=headers)


async def test_a_signature_over_another_body_is_refused(make_client: MakeClient, bus: MemoryBus) -> None:
    """A valid signature of one body does not carry over to a changed body."""
    client = await make_client()
    headers = github_headers(BODY, "pull_request")
    forged = BODY.replace(b"octocat", b"mallory")
    await _assert_refused(client, bus, 401, "signature_mismatch", data=forged, headers=headers)


async def test_a_malformed_signature_is_refused(make_client: MakeClient, bus: MemoryBus) -> None:
    """The legacy SHA-1 form, or anything but sha256=<64 hex>, is 401 malformed_signature."""
    client = await make_client()
    headers = {**github_headers(BODY, "pull_request"), "X-Hub-Signature-256": "sha1=" + "0" * 40}
    await _assert_refused(client, bus, 401, "malformed_signature", data=BODY, headers=headers)


async def test_secrets_rotate_the_old_one_stops_working_once_removed(make_client: MakeClient, bus: MemoryBus) -> None:
    """During a rotation both secrets verify; once the old one is removed, it is refused."""
    old, new = b"old-secret", b"new-secret"
    during = await make_client(webhook_github_secrets=[old.decode(), new.decode()])
    for secret in (old, new):
        response = await during.post("/webhook/github", data=BODY, headers=github_headers(BODY, "ping", secret=secret))
        assert response.status == 202
    after = await make_client(webhook_github_secrets=[new.decode()])
    headers = github_headers(BODY, "ping", secret=old)
    before = _refusals("signature_mismatch")
    response = await after.post("/webhook/github", data=BODY, headers=headers)
    assert (response.status, (await response.json())["error"]) == (401, "signature_mismatch")
    assert _refusals("signature_mismatch") == before + 1
    assert len(await read_topic(bus, topics.EVENTS)) == 2


async def test_an_oversize_body_is_refused(make_client: MakeClient, bus: MemoryBus) -> None:
    """A body over webhook_max_body_bytes is 413 body_too_large, before any signature is computed."""
    client = await make_client(webhook_max_body_bytes=1024)
    big = orjson.dumps({"padding": "x" * 2048})
    await _assert_refused(client, bus, 413, "body_too_large", data=big, headers=github_headers(big, "push"))


async def test_an_oversize_chunked_body_is_refused(make_client: MakeClient, bus: MemoryBus) -> None:
    """A body without Content-Length is still cut at the cap."""
    client = await make_client(webhook_max_body_bytes=1024)
    big = orjson.dumps({"padding": "x" * 4096})

    async def chunks() -> Any:
        for start in range(0, len(big), 512):
            yield big[start : start + 512]

    await _assert_refused(client, bus, 413, "body_too_large", data=chunks(), headers=github_headers(big, "push"))


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
async def test_only_post_is_accepted_on_a_hook_path(method: str, make_client: MakeClient, bus: MemoryBus) -> None:
    """Any other method on /webhook/<provider> is 405 with Allow: POST."""
    client = await make_client()
    before = _refusals("method_not_allowed")
    response = await client.request(method, "/webhook/github")
    assert (response.status, response.headers["Allow"]) == (405, "POST")
    assert (await response.json())["error"] == "method_not_allowed"
    assert _refusals("method_not_allowed") == before + 1


async def test_missing_event_and_delivery_headers_are_refused(make_client: MakeClient, bus: MemoryBus) -> None:
    """A signed request without the event header or the delivery id is 400, naming what is missing."""
    client = await make_client()
    no_event = github_headers(BODY, "push")
    del no_event["X-GitHub-Event"]
    answer = await _assert_refused(client, bus, 400, "missing_event", data=BODY, headers=no_event)
    assert "X-GitHub-Event" in answer["reason"]
    no_id = github_headers(BODY, "push")
    del no_id["X-GitHub-Delivery"]
    await _assert_refused(client, bus, 400, "missing_delivery_id", data=BODY, headers=no_id)
    odd_id = {**github_headers(BODY, "push"), "X-GitHub-Delivery": "a b"}
    await _assert_refused(client, bus, 400, "invalid_delivery_id", data=BODY, headers=odd_id)


async def test_a_signed_body_that_is_not_json_is_dead_lettered(make_client: MakeClient, bus: MemoryBus) -> None:
    """A verified body that is not a JSON object is 400 and kept, byte for byte, on siem.dlq."""
    client = await make_client()
    for body, reason in ((b"{not json", "malformed_json"), (b"[1, 2]", "invalid_payload")):
        response = await client.post("/webhook/github", data=body, headers=github_headers(body, "push"))
        assert (response.status, (await response.json())["error"]) == (400, reason)
    dead = await read_topic(bus, topics.DLQ)
    assert [m.value for m in dead] == [b"{not json", b"[1, 2]"]
    assert [m.header("siem.error_type") for m in dead] == [b"malformed_json", b"invalid_payload"]
    assert await read_topic(bus, topics.EVENTS) == []


async def test_a_form_encoded_delivery_is_accepted(make_client: MakeClient, bus: MemoryBus) -> None:
    """GitHub's `application/x-www-form-urlencoded` content type (payload=<json>) is read like JSON."""
    client = await make_client()
    form = urllib.parse.urlencode({"payload": BODY.decode()}).encode()
    headers = {**github_headers(form, "pull_request"), "Content-Type": "application/x-www-form-urlencoded"}
    response = await client.post("/webhook/github", data=form, headers=headers)
    assert response.status == 202
    (message,) = await read_topic(bus, topics.EVENTS)
    assert orjson.loads(message.value)["raw"] == orjson.loads(BODY)


async def test_a_redelivery_within_the_window_is_acknowledged_once(make_client: MakeClient, bus: MemoryBus) -> None:
    """The same delivery id again is 200 duplicate with the same id, and no second event."""
    client = await make_client()
    headers = github_headers(BODY, "pull_request", delivery=str(uuid.uuid4()))
    first = await client.post("/webhook/github", data=BODY, headers=headers)
    again = await client.post("/webhook/github", data=BODY, headers=headers)
    first_answer, again_answer = await first.json(), await again.json()
    assert (first.status, again.status) == (202, 200)
    assert again_answer == {"status": "duplicate", "id": first_answer["id"]}
    assert len(await read_topic(bus, topics.EVENTS)) == 1


async def test_a_redelivery_past_the_cache_keeps_its_envelope_id(make_client: MakeClient, bus: MemoryBus) -> None:
    """After a restart (an empty cache) a redelivery is emitted again, with the same id: a duplicate downstream."""
    headers = github_headers(BODY, "pull_request", delivery=str(uuid.uuid4()))
    before_restart, after_restart = await make_client(), await make_client()
    assert (await before_restart.post("/webhook/github", data=BODY, headers=headers)).status == 202
    assert (await after_restart.post("/webhook/github", data=BODY, headers=headers)).status == 202
    first, again = await read_topic(bus, topics.EVENTS)
    assert orjson.loads(first.value)["id"] == orjson.loads(again.value)["id"]
    assert first.key == again.key


async def test_a_full_bus_is_503_and_the_delivery_is_not_remembered() -> None:
    """When the bus pushes back past the timeout: 503 + Retry-After; the host's retry later goes through."""
    bus = MemoryBus(capacity=1)
    slow = bus.consumer("slow-reader", [topics.EVENTS])  # a group that has not read yet holds the backlog
    await slow.start()
    settings = WebhookSettings(**TEST_SETTINGS, webhook_enqueue_timeout_seconds=0.2)
    async with TestClient(TestServer(create_app(settings, bus, Readiness()), host="127.0.0.1")) as client:
        first = await client.post("/webhook/github", data=BODY, headers=github_headers(BODY, "ping"))
        assert first.status == 202
        second = github_headers(BODY, "ping", delivery="second-delivery")
        before = _refusals("backpressure")
        busy = await client.post("/webhook/github", data=BODY, headers=second)
        assert (busy.status, busy.headers["Retry-After"], (await busy.json())["error"]) == (503, "5", "backpressure")
        assert _refusals("backpressure") == before + 1
        await slow.getmany(timeout_ms=0, max_records=10)
        await slow.commit()
        retried = await client.post("/webhook/github", data=BODY, headers=second)
        assert retried.status == 202


async def test_a_bus_that_fails_is_503_and_nothing_is_acknowledged() -> None:
    """A bus that raises (here a Kafka bus that never connected) gives 503 bus_unavailable, never 2xx."""
    bus = KafkaBus(CommonSettings(kafka_bootstrap="127.0.0.1:1"))  # not started: every send fails
    settings = WebhookSettings(**TEST_SETTINGS)
    async with TestClient(TestServer(create_app(settings, bus, Readiness()), host="127.0.0.1")) as client:
        before = _refusals("bus_unavailable")
        response = await client.post("/webhook/github", data=BODY, headers=github_headers(BODY, "ping"))
        assert (response.status, (await response.json())["error"]) == (503, "bus_unavailable")
        assert _refusals("bus_unavailable") == before + 1
        not_json = await client.post("/webhook/github", data=b"{", headers=github_headers(b"{", "ping"))
        assert (not_json.status, (await not_json.json())["error"]) == (503, "bus_unavailable")


async def test_too_many_requests_from_one_address_are_429(make_client: MakeClient, bus: MemoryBus) -> None:
    """Past the per-address rate, requests are 429 with Retry-After, before their body is read."""
    client = await make_client(webhook_rate_limit="2/minute")
    for _ in range(2):
        response = await client.post("/webhook/github", data=BODY, headers=github_headers(BODY, "ping"))
        assert response.status == 202
    before = _refusals("rate_limited")
    limited = await client.post("/webhook/github", data=BODY, headers=github_headers(BODY, "ping"))
    assert (limited.status, limited.headers["Retry-After"]) == (429, "1")
    assert _refusals("rate_limited") == before + 1


async def test_gitlab_token_is_checked(make_client: MakeClient, bus: MemoryBus) -> None:
    """GitLab: a wrong or missing X-Gitlab-Token is 401; the right one is 202."""
    client = await make_client()
    wrong = gitlab_headers("Push Hook", token=b"guess")
    await _assert_refused(client, bus, 401, "token_mismatch", "gitlab", data=BODY, headers=wrong)
    missing = gitlab_headers("Push Hook")
    del missing["X-Gitlab-Token"]
    await _assert_refused(client, bus, 401, "missing_token", "gitlab", data=BODY, headers=missing)
    response = await client.post("/webhook/gitlab", data=BODY, headers=gitlab_headers("Push Hook"))
    assert response.status == 202


async def test_gitlab_signing_token_covers_id_and_time(make_client: MakeClient, bus: MemoryBus) -> None:
    """With a signing token, webhook-signature must verify and its timestamp be recent; the id is the delivery id."""
    client = await make_client(webhook_gitlab_tokens=[], webhook_gitlab_signing_tokens=[GITLAB_SIGNING_TOKEN])
    message_id, now = str(uuid.uuid4()), int(time.time())

    def headers(timestamp: int, key: bytes = GITLAB_SIGNING_KEY) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "X-Gitlab-Event": "Push Hook",
            "Idempotency-Key": message_id,
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": standard_signature(key, message_id, timestamp, BODY),
        }

    await _assert_refused(client, bus, 401, "stale_timestamp", "gitlab", data=BODY, headers=headers(now - 3600))
    await _assert_refused(
        client, bus, 401, "signature_mismatch", "gitlab", data=BODY, headers=headers(now, key=b"k" * 32)
    )
    response = await client.post("/webhook/gitlab", data=BODY, headers=headers(now))
    assert response.status == 202
    (message,) = await read_topic(bus, topics.EVENTS)
    assert orjson.loads(message.value)["event"]["id"] == message_id


async def test_forgejo_headers_are_served_on_the_gitea_path(make_client: MakeClient, bus: MemoryBus) -> None:
    """Forgejo's own headers verify on /webhook/gitea, and the envelope says it came from Forgejo."""
    client = await make_client()
    headers = gitea_headers(BODY, "pull_request", forgejo=True)
    response = await client.post("/webhook/gitea", data=BODY, headers=headers)
    assert response.status == 202
    (message,) = await read_topic(bus, topics.EVENTS)
    envelope = orjson.loads(message.value)
    assert (envelope["event"]["provider"], envelope["logsource"]["product"]) == ("forgejo", "gitea")


async def test_a_provider_left_out_is_not_served(make_client: MakeClient) -> None:
    """A provider turned off has no route: 404, as JSON."""
    client = await make_client(webhook_providers=["github"])
    response = await client.post("/webhook/gitlab", data=BODY, headers=gitlab_headers("Push Hook"))
    assert (response.status, await response.json()) == (404, {"error": "not_found", "reason": "Not Found"})


async def test_a_failure_of_ours_answers_without_internals_and_keeps_the_delivery(
    make_client: MakeClient, bus: MemoryBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A normaliser that raises gives 500 with a bare code (no trace, no message), and the body on siem.dlq."""

    def broken(self: GitHubProvider, event: str, payload: dict[str, Any]) -> Any:
        raise KeyError("a-value-from-the-payload")

    monkeypatch.setattr(GitHubProvider, "normalise", broken)
    client = await make_client()
    response = await client.post("/webhook/github", data=BODY, headers=github_headers(BODY, "push"))
    text = await response.text()
    assert response.status == 500
    assert orjson.loads(text)["error"] == "internal_error"
    assert "Traceback" not in text and "a-value-from-the-payload" not in text and ".py" not in text
    (dead,) = await read_topic(bus, topics.DLQ)
    assert (dead.value, dead.header("siem.error_type")) == (BODY, b"normalise_failed")


async def test_the_access_log_holds_no_signature_token_or_body(make_client: MakeClient) -> None:
    """One log line per request, with ids and the reason, never the signature, the token or the payload."""
    client = await make_client()
    headers = github_headers(BODY, "pull_request", secret=b"wrong")
    with capture_logs() as logs:
        await client.post("/webhook/github?token=in-the-query", data=BODY, headers=headers)
        await client.post("/webhook/gitlab", data=BODY, headers=gitlab_headers("Push Hook", token=b"guessed-token"))
    lines = [entry for entry in logs if entry["event"] == "webhook_request"]
    assert [(line["provider"], line["reason"]) for line in lines] == [
        ("github", "signature_mismatch"),
        ("gitlab", "token_mismatch"),
    ]
    logged = repr(logs)
    for secret in (headers["X-Hub-Signature-256"], "guessed-token", "in-the-query", "octocat", GITHUB_SECRET.decode()):
        assert secret.removeprefix("sha256=") not in logged


async def test_probes_answer_on_the_receiver_port(make_client: MakeClient) -> None:
    """/healthz and /metrics are served beside the hook paths; /metrics has the receiver's counters."""
    client = await make_client()
    assert (await client.get("/healthz")).status == 200
    metrics = await (await client.get("/metrics")).text()
    assert "siem_webhook_refusals_total" in metrics
