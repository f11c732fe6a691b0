"""The alert record (DESIGN.md shape): what the correlator raises and every alert sink reads."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Scalar = str | int | float | bool | None


class RuleRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    level: str = "medium"
    tags: list[str] = Field(default_factory=list)
    description: str | None = None
    runbook: str | None = None  # the rule's first steps for an analyst (a `runbook:` key in the rule)


class Technique(BaseModel):
    """An ATT&CK technique named by a rule tag, with its tactics."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    tactics: list[str] = Field(default_factory=list)


class Alert(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    rule: RuleRef
    group: dict[str, Scalar] = Field(default_factory=dict)
    count: int = Field(ge=1)
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    event_ids: list[str]
    hunt: str
    # Enrichment: how bad (severity, 0-100 risk), which ATT&CK techniques, whose asset.
    severity: str | None = None
    risk_score: int | None = Field(default=None, ge=0, le=100)
    attack: list[Technique] = Field(default_factory=list)
    asset: dict[str, str] = Field(default_factory=dict)
    # When what raised it is over, in event time: the correlation window closes, or suppression ends.
    ends_at: AwareDatetime | None = None

    def to_json(self) -> bytes:
        """The record value for `siem.alerts`: pydantic's JSON as bytes, without a str in between."""
        return self.__pydantic_serializer__.to_json(self)


def rfc3339_utc(moment: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, the form Alertmanager, Loki and analysts all read."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def alert_id(rule_id: str, group: dict[str, Any], event_ids: list[str]) -> str:
    """A fingerprint of what the alert is about, so the same evidence always gives the same id.

    A replayed or redelivered event therefore produces a duplicate, not a new alert.
    """
    canonical = orjson.dumps([rule_id, group, sorted(event_ids)], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:32]
