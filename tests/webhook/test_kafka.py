"""The receiver over the real Kafka broker: a redelivery is one event, and `siem run webhook` works end to end."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.shared import topics
from services.shared.bus import Message
from services.shared.bus.kafka import KafkaBus
from services.shared.http import Readiness
from services.webhook.app import create_app
from services.webhook.settings import WebhookSettings
from tests.infra import KafkaBroker, SiemProcess, http_json
from tests.shared.bus.kafka_helpers import consume, isolated_settings
from tests.webhook.hooks import TEST_SETTINGS, github_headers

PUSH = "github/push.with-new-branch.payload.json"


async def test_a_redelivery_is_exactly_one_event_on_kafka(kafka: KafkaBroker, corpus: Path) -> None:
    """The same delivery posted twice within the window is 202 then 200, and Kafka holds it once."""
    body = (corpus / PUSH).read_bytes()
    bus = KafkaBus(isolated_settings(kafka.bootstrap))
    await bus.start()
    try:
        app = create_app(WebhookSettings(**TEST_SETTINGS), bus, Readiness())
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            delivery = github_headers(body, "push", delivery=str(uuid.uuid4()))
            first = await client.post("/webhook/github", data=body, headers=delivery)
            again = await client.post("/webhook/github", data=body, headers=delivery)
            # A second, different delivery: once it is read, anything sent before it is readable too.
            other = await client.post("/webhook/github", data=body, headers=github_headers(body, "push"))
            assert (first.status, again.status, other.status) == (202, 200, 202)
            ids = {(await first.json())["id"], (await other.json())["id"]}
            assert (await again.json())["id"] in ids
        received = await consume(bus, "redelivery-reader", topics.EVENTS, expected=2)
        leftover = await consume(bus, "redelivery-reader", topics.EVENTS, expected=1, timeout=3)
    finally:
        await bus.close()
    assert leftover == []
    assert sorted(orjson.loads(m.value)["id"] for m in received) == sorted(ids)


@pytest.fixture
def webhook_process(kafka: KafkaBroker, tmp_path: Path) -> Iterator[tuple[SiemProcess, str]]:
    """`siem run webhook` over Kafka, GitHub only, two secrets (a rotation) from a mounted file."""
    secrets = tmp_path / "github-secrets"
    secrets.write_text("retiring-secret\ncurrent-secret\n")
    prefix = f"wh{uuid.uuid4().hex[:8]}."
    env = {
        "SIEM_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "SIEM_KAFKA_TOPIC_PREFIX": prefix,
        "SIEM_WEBHOOK_PROVIDERS": "github",
        "SIEM_WEBHOOK_GITHUB_SECRETS_FILE": str(secrets),
    }
    process = SiemProcess("webhook", env, tmp_path / "webhook.log")
    try:
        yield process, prefix
    finally:
        process.terminate()


def test_siem_run_webhook_puts_verified_deliveries_on_kafka(
    webhook_process: tuple[SiemProcess, str], kafka: KafkaBroker, corpus: Path
) -> None:
    """The webhook stage alone: a signed push is 202 and on Kafka, a forgery is 401, SIGTERM exits 0."""
    process, prefix = webhook_process
    process.wait_ready("webhook")
    url = process.url("webhook") + "/webhook/github"
    body = (corpus / PUSH).read_bytes()
    delivery = str(uuid.uuid4())

    status, answer = http_json("POST", url, body, github_headers(body, "push", delivery, secret=b"current-secret"))
    assert status == 202, answer
    status, answer = http_json("POST", url, body, github_headers(body, "push", secret=b"someone-else"))
    assert status == 401 and answer["error"] == "signature_mismatch"  # type: ignore[index]
    status, _ = http_json("GET", url)
    assert status == 405

    [message] = asyncio.run(_read_events(kafka.bootstrap, prefix))
    envelope = orjson.loads(message.value)
    assert envelope["logsource"] == {"product": "github", "service": "webhook", "category": None}
    assert (envelope["event"]["action"], envelope["event"]["id"], envelope["user"]["name"]) == (
        "push",
        delivery,
        "Codertocat",
    )
    assert envelope["git"]["files"] == {"added": ["README.md"]}
    assert process.terminate() == 0, process.log()
    assert "current-secret" not in process.log() and "sha256=" not in process.log()


async def _read_events(bootstrap: str, prefix: str) -> list[Message]:
    bus = KafkaBus(isolated_settings(bootstrap, prefix))
    await bus.start()
    try:
        return await consume(bus, "e2e-reader", topics.EVENTS, expected=1)
    finally:
        await bus.close()
