"""Replay protection: delivery ids seen recently, in a cache bounded in time and in size.

An id is claimed when a request starts and remembered only once its event is on the bus:
a delivery that failed (503) is not remembered, so the host's redelivery goes through.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

from cachetools import TTLCache


class Claim(enum.Enum):
    NEW = "new"  # go ahead, then `commit` or `release`
    SEEN = "seen"  # already on the bus within the window: acknowledge, emit nothing
    IN_FLIGHT = "in_flight"  # the same delivery is being handled right now


class ReplayCache:
    """Remembers delivery ids for `ttl_seconds`; past `max_entries`, the oldest are forgotten first.

    Forgetting early only lets a duplicate through to the bus, where its envelope id (derived
    from the delivery id) makes it a duplicate downstream too.
    """

    def __init__(self, ttl_seconds: float, max_entries: int, timer: Callable[[], float] = time.monotonic) -> None:
        self._seen: TTLCache[str, bool] = TTLCache(maxsize=max_entries, ttl=ttl_seconds, timer=timer)
        self._in_flight: set[str] = set()

    def claim(self, key: str) -> Claim:
        # No await in here: on one event loop, check-and-claim is atomic.
        if key in self._seen:
            return Claim.SEEN
        if key in self._in_flight:
            return Claim.IN_FLIGHT
        self._in_flight.add(key)
        return Claim.NEW

    def commit(self, key: str) -> None:
        """The event is on the bus: remember the id for the window."""
        self._in_flight.discard(key)
        self._seen[key] = True

    def release(self, key: str) -> None:
        """The event did not reach the bus: forget the claim so a redelivery is handled."""
        self._in_flight.discard(key)

    def __len__(self) -> int:
        return len(self._seen)
