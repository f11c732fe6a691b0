"""From a verified, normalised delivery to the envelope on `siem.events`.

The envelope id is a hash of the provider and the host's delivery id, so a redelivery that
got past the replay cache (after its window, or after a restart) is the same event downstream.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from services.shared.event import EcsFieldSet, Event, EventInfo, LogSource, Url, User
from services.webhook.providers import Delivery, Normalised

# A body key some hosts (older Gitea, Gogs) fill with the hook's own secret: it never leaves the receiver.
_SECRET_KEYS = ("secret",)


def envelope_id(provider: str, delivery: Delivery) -> str:
    """The same delivery of the same event always gets the same id."""
    canonical = "\0".join((provider, delivery.delivery_id, delivery.event)).encode()
    return hashlib.sha256(canonical).hexdigest()[:32]


def build_event(
    provider: str,
    delivery: Delivery,
    payload: dict[str, Any],
    facts: Normalised,
    received: datetime,
) -> Event:
    """The envelope: ECS fields from `facts`, the payload (less any secret it carries) in `raw`.

    `time` is when the delivery arrived: hosts send within seconds, and the timestamps a
    payload holds describe objects (a user's `updated_at`), not this event.
    """
    event: dict[str, Any] = {
        "module": "git",
        "dataset": f"{provider}.{facts.dataset}",
        "action": facts.action,
        "outcome": facts.outcome,
        "category": list(facts.category),
        "provider": delivery.host,
        "id": delivery.delivery_id,
        "code": delivery.event,  # the event header as sent, so `{"event": code, "payload": raw}` replays it
    }
    user: dict[str, Any] = {"name": facts.actor}
    if facts.target:
        user["target"] = {"name": facts.target}
    return Event(
        id=envelope_id(provider, delivery),
        time=received,
        ingested=received,
        event=EventInfo.model_validate(event),
        logsource=LogSource(product=provider, service="webhook"),
        user=User.model_validate(user) if facts.actor or facts.target else None,
        url=Url.model_validate({"full": facts.url}) if facts.url else None,
        git=EcsFieldSet.model_validate(facts.git) if facts.git else None,
        raw={key: value for key, value in payload.items() if key not in _SECRET_KEYS},
    )
