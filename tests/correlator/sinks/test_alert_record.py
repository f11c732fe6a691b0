"""Alerts decoded by msgspec give what pydantic's `Alert` gave: the same Alertmanager payload, file line, refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.correlator.sinks.alert_record import AlertRecord, RuleFields, TechniqueFields, alert_json, decode_alert
from services.correlator.sinks.alertmanager import AlertLinks, build_alertmanager_alerts
from services.correlator.sinks.console import summary_line
from services.shared.alert import Alert, RuleRef, Technique
from services.shared.errors import ParseError
from tests.alert_strategies import rule_refs, techniques

LINKS = AlertLinks("https://grafana.example", "loki-uid", "https://runbooks.example/{rule_id}")
_text = st.text(max_size=12)
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False), _text)
_zones = st.one_of(st.just(UTC), st.integers(-1439, 1439).map(lambda m: timezone(timedelta(minutes=m))))
_moments = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone),
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)),
    _zones,
)
_rules = rule_refs(_text, ("low", "medium", "high", "critical", "odd"))
_techniques = techniques(_text, max_tactics=2)
_alerts = st.builds(
    Alert,
    id=_text,
    rule=_rules,
    group=st.dictionaries(_text, _scalars, max_size=3),
    count=st.integers(1, 2**40),
    first_seen=_moments,
    last_seen=_moments,
    event_ids=st.lists(_text, max_size=12),
    hunt=_text,
    severity=st.none() | _text,
    risk_score=st.none() | st.integers(0, 100),
    attack=st.lists(_techniques, max_size=2),
    asset=st.dictionaries(_text, _text, max_size=2),
    ends_at=st.none() | _moments,
)


def _same_for_the_sinks(record: AlertRecord, alert: Alert) -> None:
    assert build_alertmanager_alerts([record], LINKS) == build_alertmanager_alerts([alert], LINKS)
    assert alert_json(record) == alert.model_dump_json()
    assert summary_line(record) == summary_line(alert)
    assert (record.ends_at, record.last_seen) == (alert.ends_at, alert.last_seen)


@settings(max_examples=300)
@given(_alerts)
def test_any_alert_decodes_to_what_pydantic_reads(alert: Alert) -> None:
    """An alert as stage 2 or pydantic writes it reaches every sink as the pydantic `Alert` read from it did."""
    for value in (alert.to_json(), alert.__pydantic_serializer__.to_json(alert)):
        _same_for_the_sinks(decode_alert(value), Alert.model_validate_json(value))


ALERT: dict[str, Any] = {
    "id": "a1",
    "rule": {"id": "r1", "title": "SSH brute force"},
    "count": 2,
    "first_seen": "2024-05-01T12:00:05Z",
    "last_seen": "2024-05-01T12:02:05.5+02:00",
    "event_ids": ["e1", "e2"],
    "hunt": '{module="system"}',
}


@pytest.mark.parametrize(
    "changes",
    [
        {"count": 2.0},  # pydantic takes a whole float as an int
        {"count": "3"},
        {"first_seen": "2024-05-01T12:00Z"},  # no seconds
        {"first_seen": "2024-05-01T12:00:05.9999999Z"},  # seven decimals: truncated, not rounded up
        {"first_seen": 1714564805},  # unix seconds
        {"group": {"n": 2**70}},  # past 64 bits
        {"risk_score": "7", "extra": [1, 2]},
    ],
)
def test_what_pydantic_coerces_is_taken_as_pydantic_takes_it(changes: dict[str, Any]) -> None:
    """A value only pydantic reads (a string for a number, a time without seconds) is read as pydantic reads it."""
    value = _dumps({**ALERT, **changes})
    _same_for_the_sinks(decode_alert(value), Alert.model_validate_json(value))


@pytest.mark.parametrize(
    "changes",
    [
        {"count": 0},
        {"first_seen": "2024-05-01T12:00:05"},  # naive
        {"rule": {"id": "r1"}},
        {"risk_score": 101},
        {"event_ids": "e1"},
        {"group": {"n": [1]}},
    ],
)
def test_what_pydantic_refuses_is_refused_with_its_reason(changes: dict[str, Any]) -> None:
    """A record pydantic refuses is refused as invalid_record, with pydantic's first message as the reason."""
    value = _dumps({**ALERT, **changes})
    with pytest.raises(ValidationError) as expected:
        Alert.model_validate_json(value)
    with pytest.raises(ParseError) as refused:
        decode_alert(value)
    assert (refused.value.error_type, refused.value.reason) == ("invalid_record", expected.value.errors()[0]["msg"])


def test_not_json_is_refused() -> None:
    """Bytes that are not a JSON alert are refused as invalid_record."""
    with pytest.raises(ParseError) as refused:
        decode_alert(b"not json")
    assert refused.value.error_type == "invalid_record"


def _dumps(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()  # the standard library writes integers past 64 bits, orjson refuses them


@pytest.mark.parametrize(
    ("record", "model"), [(AlertRecord, Alert), (RuleFields, RuleRef), (TechniqueFields, Technique)]
)
def test_a_record_names_every_field_of_its_model_so_none_is_dropped_unseen(record: type, model: type) -> None:
    """msgspec skips a key its Struct does not name: a field added to `Alert` and not here would be lost by sinks."""
    assert set(record.__struct_fields__) == set(model.model_fields)
    required = {name for name, info in model.model_fields.items() if info.is_required()}
    assert set(record.__struct_fields__[: len(record.__struct_fields__) - len(record.__struct_defaults__)]) == required
