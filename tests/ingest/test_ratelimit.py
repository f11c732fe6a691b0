"""The per-caller request limit: a moving window per key, with the wait until the window frees a slot."""

from __future__ import annotations

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
