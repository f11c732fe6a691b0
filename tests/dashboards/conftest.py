"""The committed dashboards, and a real Loki holding the corpus's events as the Loki sink stores them."""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from services.correlator.sinks.loki import LokiSink
from services.correlator.sinks.record import record_of
from services.correlator.sinks.settings import SinksSettings
from services.shared.event import EnrichedEvent
from tests.conftest import CORPUS
from tests.dashboards.corpus_events import corpus_events
from tests.dashboards.grafana_json import load_boards
from tests.loki.fixtures import loki, loki_service, tenant
from tests.loki.loki_service import LokiService

__all__ = ["boards", "loki", "loki_service", "seeded", "tenant"]


@dataclass(frozen=True)
class Seeded:
    url: str
    tenant: str
    events: list[EnrichedEvent]


@pytest.fixture(scope="session")
def boards() -> dict[str, dict[str, Any]]:
    """Every dashboard JSON file, by uid."""
    return load_boards()


@pytest.fixture(scope="session")
def seeded(loki_service: LokiService) -> Seeded:
    """A tenant of the real Loki holding the corpus's events, pushed by the real Loki sink."""
    if not CORPUS.is_dir():  # the `corpus` fixture's rule, for a session-wide fixture
        if os.environ.get("CI"):
            pytest.fail(f"{CORPUS} is missing in CI")
        pytest.skip("../shared/corpus is not here")
    events = corpus_events(CORPUS, datetime.now(UTC))
    tenant = f"dash{uuid.uuid4().hex[:12]}"

    async def push() -> None:
        async with aiohttp.ClientSession() as session:
            await LokiSink(SinksSettings(loki_url=loki_service.url, loki_tenant=tenant), session).send(
                [record_of(e) for e in events]
            )

    asyncio.run(push())
    return Seeded(loki_service.url, tenant, events)
