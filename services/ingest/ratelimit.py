"""A request limit per caller (a token, a client certificate, or an address when there are no tokens),
counted in memory by the `limits` library.

The strategy is `limits`' sliding window counter: the current and the previous window's counts,
the previous one weighted by how much of it still overlaps the moving window. It refuses what a
moving window would, give or take that approximation, with two counters per caller instead of a
timestamp per request, and without the moving window's expiry pass that hands every caller's
list to a thread (`asyncio.to_thread`) after each request.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

_NAMESPACE = "ingest"


class RateLimiter:
    """`limit` in the `limits` notation ("100/second", "5000/minute"); None turns limiting off."""

    def __init__(self, limit: str | None) -> None:
        self._item: RateLimitItem | None = parse(limit) if limit else None
        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())

    async def retry_after_seconds(self, key: str) -> int:
        """0 when `key` may go now (its request is counted), else the whole seconds until it may."""
        if self._item is None or await self._limiter.hit(self._item, _NAMESPACE, key):
            return 0
        stats = await self._limiter.get_window_stats(self._item, _NAMESPACE, key)
        return max(1, math.ceil(stats.reset_time - time.time()))
