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
        """The record value for `siem.alerts`: byte for byte what pydantic's serializer writes.

        orjson writes the fields (in the order pydantic does: the `__dict__` keeps field order)
        and the rule and techniques come from the cache of frozen models' JSON: about a third of
        pydantic's time, for a record stage 1 writes more than once per event. What orjson would
        write otherwise (an offset other than UTC, a field missing or added) or cannot (an int
        past 64 bits) is left to pydantic, and so is raising on what pydantic cannot write either.
        """
        fields = self.__dict__
        if len(fields) == _ALERT_FIELDS and _utc(self.first_seen) and _utc(self.last_seen) and _utc(self.ends_at):
            try:
                written = orjson.dumps(fields, default=_frozen_fragment, option=orjson.OPT_UTC_Z)
            except orjson.JSONEncodeError:
                pass
            else:
                # orjson (3.12 on) hands back its whole buffer, 4 KiB or more, for a record of ~500
                # bytes; kept until the bus has it, that is a page touched (a fault) per alert. The
                # copy is the record's size and costs less than the fault.
                return bytes(memoryview(written))
        return self.__pydantic_serializer__.to_json(self)


_ALERT_FIELDS = len(Alert.model_fields)


def _utc(moment: datetime | None) -> bool:
    # orjson and pydantic round an offset in seconds (old local times) differently: UTC is written alike.
    return moment is None or (type(moment) is datetime and moment.tzinfo is UTC)


def _frozen_fragment(value: object) -> orjson.Fragment:
    # Exact types only: pydantic writes a subclass by the declared type's fields, frozen_json by its own.
    if type(value) is RuleRef or type(value) is Technique:
        return orjson.Fragment(frozen_json(value))
    raise TypeError  # orjson's JSONEncodeError: pydantic writes the alert


# The JSON of each frozen rule reference and technique, made once: a rule set is a few thousand
# of them, and stage 1 writes them in every alert and every enriched event. An entry keeps its
# model alive, so its id() is not reused while cached; a reloaded rule set's refs replace the old ones.
_FROZEN_JSON: dict[int, tuple[RuleRef | Technique, bytes]] = {}
_FROZEN_JSON_ENTRIES = 16_384


def frozen_json(model: RuleRef | Technique) -> bytes:
    """`model.model_dump_json()` as bytes, cached: the models are frozen, so it never changes."""
    cached = _FROZEN_JSON.get(id(model))
    if cached is None or cached[0] is not model:
        if len(_FROZEN_JSON) >= _FROZEN_JSON_ENTRIES:
            _FROZEN_JSON.clear()
        cached = _FROZEN_JSON[id(model)] = (model, model.model_dump_json().encode())
    return cached[1]


def rfc3339_utc(moment: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, the form Alertmanager, Loki and analysts all read."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)  # a naive time is taken as local, as astimezone takes it
    if type(moment) is datetime:
        # orjson writes what isoformat() does (microseconds only when there are some), with the `Z`, in C:
        # a fifth of the time, and the sinks write this two or three times per alert.
        return orjson.dumps(moment, option=orjson.OPT_UTC_Z)[1:-1].decode()
    return moment.isoformat().replace("+00:00", "Z")  # a subclass writes itself


def alert_id(rule_id: str, group: dict[str, Any], event_ids: list[str]) -> str:
    """A fingerprint of what the alert is about, so the same evidence always gives the same id.

    A replayed or redelivered event therefore produces a duplicate, not a new alert.
    """
    canonical = orjson.dumps([rule_id, group, sorted(event_ids)], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:32]
