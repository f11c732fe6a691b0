"""Stage 1's alerts: one rule matching one event, written from the rule's prepared record.

Every alert stage 1 raises is about a single event and has no group, so all of its record but
the event's id, time and hunt query (and `ends_at` under suppression) is the rule's, the same
for each of its alerts. An `AlertTemplate` holds that part of a rule's record as pydantic
writes it; an `EventAlert` is the rest, and writes the `siem.alerts` record without building
the pydantic `Alert` it stands for, which stage 1 never reads: building and copying models was
most of what an alert cost. `EventAlert.alert()` builds it for the in-process readers (replay,
rule tests), with the same values. An event matching several rules has its own part of their
records (`AlertedEvent`) written once for all of them.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson

from services.correlator.hunt import event_hunt
from services.shared.alert import Alert, RuleRef

_CHECK_TIME = datetime(2000, 1, 2, 3, 4, 5, 678900, tzinfo=UTC)


class AlertTemplate:
    """The part of a rule's single-event alerts that is the rule's: its runs of the record, and its id's prefix."""

    def __init__(self, ref: RuleRef, enrichment: dict[str, Any]) -> None:
        self.rule = ref
        self.key = ref.id.encode()  # the record key on `siem.alerts`
        self._prototype = Alert.model_construct(
            id="",
            rule=ref,
            group={},
            count=1,
            first_seen=_CHECK_TIME,
            last_seen=_CHECK_TIME,
            event_ids=[],
            hunt="",
            **enrichment,
        )
        # alert_id's canonical form of [rule id, no group, [event id]] up to the event id, hashed once.
        self._id_prefix = hashlib.sha256(orjson.dumps([ref.id, {}])[:-1] + b",[")
        self._parts = self._record_parts()

    def _record_parts(self) -> tuple[bytes, bytes] | None:
        """The rule's two runs of the record, around the event's; None when they do not give pydantic's bytes.

        A record is `{"id":"<alert id>` + the rule's run (rule, group, count) + the event's run
        (first and last seen, event ids, hunt) + the enrichment up to `"ends_at":` + its value + `}`.
        """
        write = self._prototype.__pydantic_serializer__.to_json
        rule_part = write(self._prototype, include={"rule", "group", "count"})[1:-1]
        enrichment = write(self._prototype, include={"severity", "risk_score", "attack", "asset"})[1:-1]
        parts = (b'",' + rule_part, enrichment + b',"ends_at":')
        # Checked once per rule against pydantic itself: a field added to Alert (or moved) turns
        # the template off, and the rule's alerts are written by pydantic, never written wrong.
        check = self._prototype.model_copy(update={"id": "0" * 32, "event_ids": ["e"], "hunt": "h"})
        time = orjson.dumps(_CHECK_TIME, option=orjson.OPT_UTC_Z)
        written = _record(parts, b"0" * 32, _event_part(b'"e"', time, b'"h"'), b"null")
        return parts if written == write(check) else None

    @property
    def prepared(self) -> bool:
        """Whether the rule's records are written from the template (else pydantic writes them)."""
        return self._parts is not None

    def alert_id(self, event_id_json: bytes) -> str:
        """`alert_id(rule id, {}, [event id])`, from the event id as JSON."""
        return self._alert_id(event_id_json + b"]]").decode()

    def _alert_id(self, id_tail: bytes) -> bytes:
        # The rule's prefix is hashed once; what an alert adds is its event id and the two closing brackets.
        digest = self._id_prefix.copy()
        digest.update(id_tail)
        return digest.hexdigest()[:32].encode()

    def alert(self, event: AlertedEvent, ends_at: datetime | None) -> Alert:
        """The pydantic `Alert` of this rule about one event (rule, enrichment and all shared with the others)."""
        fresh: dict[str, Any] = {
            "id": self.alert_id(orjson.dumps(event.id)),
            "first_seen": event.time,
            "last_seen": event.time,
            "event_ids": [event.id],
            "hunt": event_hunt(event.module, event.id),
        }
        if ends_at is not None:
            fresh["ends_at"] = ends_at
        return self._prototype.model_copy(update=fresh)

    def to_json(self, event: AlertedEvent, ends_at: datetime | None) -> bytes:
        """What `Alert.to_json` writes for `alert(...)`: its values put into the rule's record."""
        # orjson writes UTC as pydantic does (alert.py's test); another offset is pydantic's to write.
        parts = self._parts
        if parts is None or not _utc(event.time) or not (ends_at is None or _utc(ends_at)):
            return self.alert(event, ends_at).to_json()
        id_tail, event_part = event.written()
        ends = b"null" if ends_at is None else orjson.dumps(ends_at, option=orjson.OPT_UTC_Z)
        return _record(parts, self._alert_id(id_tail), event_part, ends)


def _record(parts: tuple[bytes, bytes], alert_id: bytes, event_part: bytes, ends_at: bytes) -> bytes:
    # One join of the pieces in record order: about half of what `%` formatting the whole record cost.
    return b"".join((b'{"id":"', alert_id, parts[0], event_part, parts[1], ends_at, b"}"))


def _event_part(event_id: bytes, moment: bytes, hunt: bytes) -> bytes:
    """The event's run of an alert record, between the rule's `count` and its enrichment: the same in all its alerts."""
    return b"".join(
        (b',"first_seen":', moment, b',"last_seen":', moment, b',"event_ids":[', event_id, b'],"hunt":', hunt, b",")
    )


def _utc(moment: datetime) -> bool:
    return type(moment) is datetime and moment.tzinfo is UTC


class AlertedEvent:
    """The event an alert is about: its id, time and hunt query, written as JSON once for all the rules it matched.

    A Kubernetes audit event raises two alerts on average with 1,000 rules, and its hunt query
    (escaping the dots of its id) cost as much as the rest of an alert.
    """

    __slots__ = ("id", "time", "module", "_written")

    def __init__(self, event_id: str, time: datetime, module: str) -> None:
        self.id = event_id
        self.time = time
        self.module = module
        self._written: tuple[bytes, bytes] | None = None

    def written(self) -> tuple[bytes, bytes]:
        """The id as JSON closed as alert_id hashes it (`"id"]]`), and the event's run of its alerts' records.

        The time is written in UTC with a Z: only asked for an event in UTC.
        """
        if self._written is None:
            event_id = orjson.dumps(self.id)
            moment = orjson.dumps(self.time, option=orjson.OPT_UTC_Z)
            self._written = (
                event_id + b"]]",
                _event_part(event_id, moment, orjson.dumps(event_hunt(self.module, self.id))),
            )
        return self._written


class EventAlert:
    """An alert of one rule about one event, not yet built: what stage 1 raises and writes."""

    __slots__ = ("template", "event", "ends_at")

    def __init__(self, template: AlertTemplate, event: AlertedEvent, ends_at: datetime | None) -> None:
        self.template = template
        self.event = event
        self.ends_at = ends_at  # when suppression lets the rule speak again; None without suppression

    @property
    def rule(self) -> RuleRef:
        return self.template.rule

    def to_json(self) -> bytes:
        """The record value for `siem.alerts`: byte for byte `self.alert().to_json()`."""
        return self.template.to_json(self.event, self.ends_at)

    def alert(self) -> Alert:
        return self.template.alert(self.event, self.ends_at)
