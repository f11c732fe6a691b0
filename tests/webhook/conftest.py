"""The receiver over a real aiohttp server on 127.0.0.1 and the memory bus, with test secrets for every host."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY

from services.shared.bus import Message
from services.shared.bus.memory import MemoryBus
from services.shared.http import Readiness
from services.webhook.app import create_app
from services.webhook.settings import WebhookSettings
from tests.webhook.hooks import TEST_SETTINGS

Client = TestClient[Any, Any]
MakeClient = Callable[..., Awaitable[Client]]


@pytest.fixture
def bus() -> MemoryBus:
    return MemoryBus(capacity=100)


@pytest.fixture
async def make_client(bus: MemoryBus) -> AsyncIterator[MakeClient]:
    """Start the receiver with the test secrets plus `overrides`; the servers stop at the end of the test."""
    clients: list[Client] = []

    async def make(**overrides: Any) -> Client:
        settings = WebhookSettings(**{**TEST_SETTINGS, **overrides})
        client = TestClient(TestServer(create_app(settings, bus, Readiness()), host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def read_topic(bus: MemoryBus, topic: str) -> list[Message]:
    """Everything on `topic` so far (a fresh consumer group reads from the start)."""
    consumer = bus.consumer(f"test-reader-{topic}", [topic])
    await consumer.start()
    return await consumer.getmany(timeout_ms=0, max_records=10_000)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0
