"""An alert as the alert sinks take it: `siem.alerts` decoded by msgspec into `Alert`'s fields, pydantic as referee.

Every field of an alert ends up in Alertmanager, so the record is checked whole, against the
types and bounds of the pydantic `Alert` (services/shared/alert.py). msgspec does that in a
third of pydantic's time, but it is stricter: what it refuses (a count written `1.0`, a time
without seconds, a number past 64 bits) is handed to pydantic, which either accepts it, with
its coercions, or refuses it with the reason the delivery stage dead-letters it with. What
msgspec accepts, pydantic accepts with the same values, with one exception caught before
decoding: a time with more than six decimals, which msgspec rounds and pydantic truncates.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

import msgspec
from pydantic import ValidationError

from services.shared.alert import Alert, RuleRef, Scalar, Technique
from services.shared.errors import ParseError

Aware = Annotated[datetime, msgspec.Meta(tz=True)]


# Structs hold only text, numbers, times and one another: they cannot be part of a reference cycle.
class RuleFields(msgspec.Struct, frozen=True, gc=False):
    id: str
    title: str
    level: str = "medium"
    tags: list[str] = msgspec.field(default_factory=list)
    description: str | None = None
    runbook: str | None = None


class TechniqueFields(msgspec.Struct, frozen=True, gc=False):
    id: str
    name: str
    tactics: list[str] = msgspec.field(default_factory=list)


class AlertRecord(msgspec.Struct, frozen=True, gc=False):
    """The fields of `Alert`, named, typed, bounded and defaulted as there, so a sink reads either alike."""

    id: str
    rule: RuleFields
    count: Annotated[int, msgspec.Meta(ge=1)]
    first_seen: Aware
    last_seen: Aware
    event_ids: list[str]
    hunt: str
    group: dict[str, Scalar] = msgspec.field(default_factory=dict)
    severity: str | None = None
    risk_score: Annotated[int, msgspec.Meta(ge=0, le=100)] | None = None
    attack: list[TechniqueFields] = msgspec.field(default_factory=list)
    asset: dict[str, str] = msgspec.field(default_factory=dict)
    ends_at: Aware | None = None

    def to_alert(self) -> Alert:
        """The pydantic `Alert` of the same values (for the sinks that write its JSON)."""
        # Times stay datetime objects and floats stay floats (JSON would turn a NaN into null).
        return Alert.model_validate(msgspec.to_builtins(self, builtin_types=(datetime,)))


AlertLike = Alert | AlertRecord  # what the alert sinks read: the same attributes on both

_decoder = msgspec.json.Decoder(AlertRecord)
# Seconds followed by seven decimals or more: msgspec would round them, pydantic truncates.
_LONG_FRACTION = re.compile(rb":\d\d\.\d{7}")


def decode_alert(value: bytes) -> AlertRecord:
    """The record of one `siem.alerts` message; ParseError("invalid_record") with pydantic's reason if it is not one."""
    if _LONG_FRACTION.search(value) is None:
        try:
            return _decoder.decode(value)
        except msgspec.DecodeError:  # ValidationError included: pydantic says whether it is one, and why
            pass
    try:
        alert = Alert.model_validate_json(value)
    except ValidationError as exc:
        raise ParseError("invalid_record", str(exc.errors()[0]["msg"])) from None
    return record_of(alert)


def record_of(alert: Alert) -> AlertRecord:
    """The record of a validated `Alert`, its values as they are (no second check)."""
    return AlertRecord(
        id=alert.id,
        rule=_rule(alert.rule),
        count=alert.count,
        first_seen=alert.first_seen,
        last_seen=alert.last_seen,
        event_ids=alert.event_ids,
        hunt=alert.hunt,
        group=alert.group,
        severity=alert.severity,
        risk_score=alert.risk_score,
        attack=[_technique(t) for t in alert.attack],
        asset=alert.asset,
        ends_at=alert.ends_at,
    )


def alert_json(alert: AlertLike) -> str:
    """`Alert.model_dump_json()` of either form: the alerts file keeps pydantic's JSON."""
    return (alert.to_alert() if isinstance(alert, AlertRecord) else alert).model_dump_json()


def _rule(rule: RuleRef) -> RuleFields:
    return RuleFields(rule.id, rule.title, rule.level, rule.tags, rule.description, rule.runbook)


def _technique(technique: Technique) -> TechniqueFields:
    return TechniqueFields(technique.id, technique.name, technique.tactics)
