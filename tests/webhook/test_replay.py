"""The replay cache: remembers a delivery for its window, bounded in size, and only once it reached the bus."""

from __future__ import annotations

from services.webhook.replay import Claim, ReplayCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_committed_delivery_is_seen_until_its_window_ends() -> None:
    """After commit the id is SEEN within the TTL and NEW again after it."""
    clock = Clock()
    cache = ReplayCache(ttl_seconds=60, max_entries=10, timer=clock)
    assert cache.claim("d1") is Claim.NEW
    cache.commit("d1")
    clock.now = 59
    assert cache.claim("d1") is Claim.SEEN
    clock.now = 61
    assert cache.claim("d1") is Claim.NEW


def test_a_released_claim_is_forgotten() -> None:
    """A delivery whose event did not reach the bus can be handled again."""
    cache = ReplayCache(ttl_seconds=60, max_entries=10)
    assert cache.claim("d1") is Claim.NEW
    assert cache.claim("d1") is Claim.IN_FLIGHT
    cache.release("d1")
    assert cache.claim("d1") is Claim.NEW


def test_the_cache_never_grows_past_its_bound() -> None:
    """Past max_entries the oldest ids are forgotten first; the size stays at the bound."""
    cache = ReplayCache(ttl_seconds=3600, max_entries=3)
    for number in range(10):
        key = f"d{number}"
        assert cache.claim(key) is Claim.NEW
        cache.commit(key)
    assert len(cache) == 3
    assert cache.claim("d9") is Claim.SEEN
    assert cache.claim("d0") is Claim.NEW
