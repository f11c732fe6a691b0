"""Pytest fixtures over the real Loki: one Loki per session, a gateway and a tenant of its own per test.

Imported by the conftest of every test folder that talks to Loki (tests/loki, tests/correlator/sinks).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.loki.gateway import LokiGateway
from tests.loki.loki_service import LokiService, session_loki


@pytest.fixture(scope="session")
def loki_service() -> LokiService:
    """A real Loki built from its Go module; failing to build or start fails the test (never a skip)."""
    return session_loki()


@pytest.fixture
def tenant() -> str:
    """A tenant no other test writes to: the test's private corner of the shared Loki."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def loki(loki_service: LokiService) -> Iterator[LokiGateway]:
    """A gateway in front of the session's Loki that the test can make fail."""
    gateway = LokiGateway(loki_service.url).start()
    try:
        yield gateway
    finally:
        gateway.stop()
