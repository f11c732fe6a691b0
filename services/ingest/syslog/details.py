"""What a program-specific parser found in one message: ECS fields plus the program's own key names."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from services.shared.event import Outcome


@dataclass(slots=True)
class Details:
    """ECS field sets go to the envelope; `fields` are merged into `raw` under the names the program logs,
    so rules written against those names (sudo's `USER`, auditd's `type`/`a0`) read them."""

    action: str | None = None
    outcome: Outcome = "unknown"
    category: list[str] = field(default_factory=list)
    type: list[str] = field(default_factory=list)  # ECS event.type
    user: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    destination: dict[str, Any] = field(default_factory=dict)
    process: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)


def endpoint(address: str | None, port: str | None = None) -> dict[str, Any]:
    """ECS `source`/`destination` from a logged address: an IP goes to `ip`, a host name to `domain`."""
    found: dict[str, Any] = {}
    if address and address not in ("?", "-", "UNKNOWN"):
        try:
            found["ip"] = str(ipaddress.ip_address(address.strip("[]")))
        except ValueError:
            found["domain"] = address
    if port and port.isdecimal() and int(port) <= 65535:
        found["port"] = int(port)
    return found


def user_name(name: str | None) -> dict[str, Any]:
    return {"name": name} if name else {}
