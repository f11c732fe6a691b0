"""The per-caller request limit: a sliding window per key, with the wait until the window frees a slot."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.ingest.ratelimit import RateLimiter
from services.ingest.settings import IngestSettings
from services.shared.errors import ConfigError


async def test_limit_per_key_with_retry_after() -> None:
    """Past its limit a caller waits (a whole number of seconds within the window); another caller does not."""
    limiter = RateLimiter("2/minute")
    assert [await limiter.retry_after_seconds("a") for _ in range(2)] == [0, 0]
    assert 1 <= await limiter.retry_after_seconds("a") <= 60
    assert await limiter.retry_after_seconds("b") == 0


async def test_counting_stays_on_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counting hands nothing to a thread: each request's hit is counted in the event loop itself."""
    handed: list[object] = []
    to_thread = asyncio.to_thread

    async def recording(function: Any, /, *args: Any) -> Any:
        handed.append(function)
        return await to_thread(function, *args)

    monkeypatch.setattr(asyncio, "to_thread", recording)
    limiter = RateLimiter("1000/second")
    for _ in range(20):
        assert await limiter.retry_after_seconds("a") == 0
        await asyncio.sleep(0.001)  # let the storage's expiry task run
    assert handed == []


async def test_no_limit_when_unset() -> None:
    """An empty limit never refuses."""
    limiter = RateLimiter(None)
    assert {await limiter.retry_after_seconds("a") for _ in range(500)} == {0}


def test_malformed_limit_is_a_config_error() -> None:
    """A limit that is not `N/period` stops start-up, naming SIEM_INGEST_RATE_LIMIT."""
    with pytest.raises(ConfigError) as error:
        IngestSettings.load(ingest_rate_limit="lots")
    assert error.value.key == "SIEM_INGEST_RATE_LIMIT"
    assert IngestSettings(ingest_rate_limit="").ingest_rate_limit == ""
