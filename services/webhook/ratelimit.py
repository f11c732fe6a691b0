"""Per-source-IP rate limiting, with the client address read through trusted proxies only.

Behind an Ingress every request comes from the proxy, so the client is the right-most
X-Forwarded-For entry that is not itself a trusted proxy. A header from anyone else is
ignored: a client cannot pick its own address to dodge the limit.
"""

from __future__ import annotations

import ipaddress

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from services.webhook.settings import Network


def client_ip(peer: str | None, forwarded_for: str | None, trusted: list[Network]) -> str:
    """The address to hold responsible: the peer, unless it is a trusted proxy that says who it serves."""
    if peer is None:
        return "unknown"
    hops = [peer]
    if forwarded_for and trusted:
        hops += [hop.strip() for hop in reversed(forwarded_for.split(","))]
    responsible = peer
    for hop in hops:
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            return responsible  # garbage left of our proxies was written by the client: stop there
        responsible = str(address)
        if not any(address in network for network in trusted):
            return responsible
    return responsible


class SourceRateLimit:
    """A sliding window counter per client address, in memory (one receiver process owns its counters).

    Like ingest's limiter: two counters per client instead of a timestamp per request, and no
    expiry pass handed to a thread after every request, as `limits`' moving window does.
    """

    def __init__(self, limit: RateLimitItem, trusted: list[Network]) -> None:
        self._limit = limit
        self._trusted = trusted
        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())

    def client(self, peer: str | None, forwarded_for: str | None) -> str:
        return client_ip(peer, forwarded_for, self._trusted)

    async def allow(self, client: str) -> bool:
        """Count one request from `client`; False once it is over the limit."""
        return await self._limiter.hit(self._limit, "webhook", limit_key(client))


def limit_key(client: str) -> str:
    """An IPv4 address, or the /64 of an IPv6 one: a single host usually holds a whole /64, and one
    key per address would let it spread over 2^64 counters (each kept for the limit's window)."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
