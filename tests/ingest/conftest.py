"""Fixtures for ingest's tests: a clean environment, a memory bus, and ingest served on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from services.shared.bus.memory import MemoryBus
from services.shared.http import Readiness
from tests.ingest.loki_proto import loki_push  # noqa: F401  (Loki's own push.proto, compiled per session)

Client = TestClient[Any, Any]
MakeClient = Callable[..., Awaitable[Client]]


@pytest.fixture
def bus() -> MemoryBus:
    return MemoryBus(capacity=1000)


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
