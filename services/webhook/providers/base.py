"""What every provider hands the receiver: its keys, the delivery it read from the headers, its verdict, its facts.

A provider is pure: `verify`, `delivery` and `normalise` read what they are given and touch
nothing else, so each is tested without a server and property-tested with any input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from services.shared.event import Outcome

# Delivery ids and event names are logged and hashed: only short, plain tokens pass.
_DELIVERY_ID = re.compile(r"[A-Za-z0-9._:{}\-]{1,128}")
_EVENT_NAME = re.compile(r"[A-Za-z0-9 _:.\-]{1,64}")


@dataclass(frozen=True, slots=True)
class Keys:
    """What one provider's checks accept: several keys of each kind during a rotation."""

    secrets: tuple[bytes, ...] = ()  # HMAC keys
    tokens: tuple[bytes, ...] = ()  # shared tokens the host sends as they are (GitLab's X-Gitlab-Token)
    tolerance_seconds: float = 300.0  # how far a signed timestamp may be from now (Standard Webhooks)

    def __bool__(self) -> bool:
        return bool(self.secrets or self.tokens)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a delivery is refused: a stable reason code (a metric label), the status, a human message."""

    reason: str
    message: str
    status: int = 401


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the headers say about one delivery."""

    event: str  # the event header's value, as sent ("push", "Push Hook", "repo:refs_changed")
    delivery_id: str  # the host's id of this delivery; the same on a redelivery
    host: str  # the product that sent it: github, gitlab, gitea, forgejo, bitbucket


@dataclass(frozen=True, slots=True)
class Normalised:
    """A payload's facts in the envelope's terms; `git` is the provider-neutral summary rules match on."""

    dataset: str  # the event family, without the provider ("push", "pull_request", "user_failed_login")
    action: str  # family plus the payload's own action ("pull_request.closed")
    actor: str | None = None  # who did it (ECS user.name)
    target: str | None = None  # whom it was done to, for IAM events (ECS user.target.name)
    outcome: Outcome = "success"
    category: tuple[str, ...] = ()
    url: str | None = None
    git: dict[str, Any] = field(default_factory=dict)


class Provider(Protocol):
    """One Git host. `headers` must be case-insensitive (aiohttp's, or a multidict.CIMultiDict)."""

    name: str  # registry key = file stem = path /webhook/<name> = logsource product

    def verify(self, body: bytes, headers: Mapping[str, str], keys: Keys, now: float) -> Refusal | None:
        """None when the request proves it comes from the host; never raises."""
        ...

    def delivery(self, headers: Mapping[str, str]) -> Delivery | Refusal:
        """The event name and delivery id from the headers, or why they are unusable."""
        ...

    def normalise(self, event: str, payload: dict[str, Any]) -> Normalised:
        """The facts of one verified payload; never raises, whatever the payload holds."""
        ...


def first_header(headers: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    """The first of `names` present with a non-empty value."""
    for name in names:
        value = headers.get(name)
        if value:
            return value
    return None


def read_delivery(
    headers: Mapping[str, str], *, event_headers: tuple[str, ...], id_headers: tuple[str, ...], host: str
) -> Delivery | Refusal:
    """Event name and delivery id, both required and both plain tokens (they are logged and hashed)."""
    event = first_header(headers, event_headers)
    if event is None:
        return Refusal("missing_event", f"the {event_headers[0]} header is required", 400)
    if not _EVENT_NAME.fullmatch(event):
        return Refusal("invalid_event", f"the {event_headers[0]} header is not an event name", 400)
    delivery_id = first_header(headers, id_headers)
    if delivery_id is None:
        return Refusal("missing_delivery_id", f"the {id_headers[0]} header is required", 400)
    if not _DELIVERY_ID.fullmatch(delivery_id):
        return Refusal("invalid_delivery_id", f"the {id_headers[0]} header is not a delivery id", 400)
    return Delivery(event=event, delivery_id=delivery_id, host=host)
