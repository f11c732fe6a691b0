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
        # A record is `{"id":"<alert id>` + the rule's run (rule, group, count) + the event's run (first
        # and last seen, event ids, hunt: AlertedEvent's) + the enrichment's run up to `"ends_at":` + its value + `}`.
        write = self._prototype.__pydantic_serializer__.to_json
        self._rule_run = b'",' + write(self._prototype, include={"rule", "group", "count"})[1:-1]
        enriched = write(self._prototype, include={"severity", "risk_score", "attack", "asset"})
        self._enrichment_run = enriched[1:-1] + b',"ends_at":'
        # Checked once per rule against pydantic itself: a field added to Alert (or moved) turns
        # the template off, and the rule's alerts are written by pydantic, never written wrong.
        self.prepared = True  # whether the rule's records are written from the template (else pydantic writes them)
        sample = AlertedEvent("e", _CHECK_TIME, "generic")
        self.prepared = self.to_json(sample, None) == write(self.alert(sample, None))

    def alert_id(self, event_id_json: bytes) -> str:
        """`alert_id(rule id, {}, [event id])`, from the event id as JSON."""
        digest = self._id_prefix.copy()
        digest.update(event_id_json + b"]]")
        return digest.hexdigest()[:32]

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
        """What `Alert.to_json` writes for `alert(...)`: its values put into the rule's record, in one join."""
        # orjson writes UTC as pydantic does (alert.py's test); another offset is pydantic's to write.
        if not (self.prepared and event.utc) or not (ends_at is None or _utc(ends_at)):
            return self.alert(event, ends_at).to_json()
        id_tail, event_run = event.written()
        digest = self._id_prefix.copy()
        digest.update(id_tail)  # alert_id's, written out: this runs for every alert
        ends = b"null" if ends_at is None else orjson.dumps(ends_at, option=orjson.OPT_UTC_Z)
        return b"".join(
            (b'{"id":"', digest.hexdigest()[:32].encode(), self._rule_run, event_run, self._enrichment_run, ends, b"}")
        )


def _event_run(event_id: bytes, moment: bytes, hunt: bytes) -> bytes:
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

    __slots__ = ("id", "time", "module", "utc", "_written")

    def __init__(self, event_id: str, time: datetime, module: str) -> None:
        self.id = event_id
        self.time = time
        self.module = module
        self.utc = _utc(time)  # asked by each of its alerts: orjson writes its time only in UTC
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
                _event_run(event_id, moment, orjson.dumps(event_hunt(self.module, self.id))),
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
