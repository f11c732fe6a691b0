"""The client address behind trusted proxies: believed only from them, never from the client itself."""

from __future__ import annotations

import ipaddress

from services.webhook.ratelimit import client_ip, limit_key

PROXIES = [ipaddress.ip_network("10.0.0.0/8")]


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    """A direct client cannot choose its address with X-Forwarded-For."""
    assert client_ip("198.51.100.7", "203.0.113.1", []) == "198.51.100.7"
    assert client_ip("198.51.100.7", "203.0.113.1", PROXIES) == "198.51.100.7"


def test_behind_a_trusted_proxy_the_right_most_untrusted_hop_is_the_client() -> None:
    """Through the Ingress, the client is the last address the proxies appended that is not a proxy."""
    assert client_ip("10.0.0.2", "203.0.113.1, 198.51.100.9", PROXIES) == "198.51.100.9"
    assert client_ip("10.0.0.2", "198.51.100.9, 10.0.0.5", PROXIES) == "198.51.100.9"


def test_a_garbage_hop_stops_the_walk_at_the_last_trusted_address() -> None:
    """Unparseable entries (written by a client) are never taken as the address."""
    assert client_ip("10.0.0.2", "not-an-ip", PROXIES) == "10.0.0.2"
    assert client_ip(None, None, PROXIES) == "unknown"


def test_ipv6_clients_are_limited_per_64() -> None:
    """Addresses of one IPv6 /64 share a counter; IPv4 addresses each have their own."""
    assert limit_key("2001:db8:1:2::1") == limit_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert limit_key("2001:db8:1:3::1") != limit_key("2001:db8:1:2::1")
    assert limit_key("198.51.100.7") == "198.51.100.7"
