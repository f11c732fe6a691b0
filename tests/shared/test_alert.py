"""Alert ids are fingerprints of rule, group and evidence, so a replay gives the same id; the JSON is pydantic's."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic_core import PydanticSerializationError

from services.shared.alert import Alert, RuleRef, Technique, alert_id, frozen_json
from tests.alert_strategies import rule_refs, techniques

RULE = "5d0b3f2e-1c2a-4d7e-9a6b-3f1e2d4c5b6a"
OTHER_RULE = "0f6c1b7a-2e3d-4c5b-8a9f-1e2d3c4b5a69"
GROUP = {"source.ip": "203.0.113.7", "user.name": "root"}


def test_same_inputs_give_the_same_id() -> None:
    """Two computations over equal inputs (built separately) give the same id."""
    assert alert_id(RULE, dict(GROUP), ["e1", "e2"]) == alert_id(RULE, dict(GROUP), ["e1", "e2"])


def test_id_is_a_short_hex_fingerprint() -> None:
    """The id is 32 lowercase hex characters, usable as a label or a file name."""
    assert re.fullmatch(r"[0-9a-f]{32}", alert_id(RULE, GROUP, ["e1"]))


def test_order_of_event_ids_does_not_matter() -> None:
    """The same evidence in another order gives the same id."""
    assert alert_id(RULE, GROUP, ["e1", "e2", "e3"]) == alert_id(RULE, GROUP, ["e3", "e1", "e2"])


def test_order_of_group_keys_does_not_matter() -> None:
    """A group-by mapping built in another key order gives the same id."""
    reordered = {"user.name": "root", "source.ip": "203.0.113.7"}
    assert alert_id(RULE, GROUP, ["e1"]) == alert_id(RULE, reordered, ["e1"])


def test_a_different_rule_gives_a_different_id() -> None:
    """The same group and events under another rule are another alert."""
    assert alert_id(RULE, GROUP, ["e1"]) != alert_id(OTHER_RULE, GROUP, ["e1"])


def test_a_different_group_gives_a_different_id() -> None:
    """Another group-by value (or none at all) is another alert."""
    base = alert_id(RULE, GROUP, ["e1"])
    assert base != alert_id(RULE, {**GROUP, "source.ip": "198.51.100.1"}, ["e1"])
    assert base != alert_id(RULE, {}, ["e1"])


def test_different_events_give_a_different_id() -> None:
    """Other evidence, one more event, or one fewer event is another alert."""
    base = alert_id(RULE, GROUP, ["e1", "e2"])
    assert base != alert_id(RULE, GROUP, ["e1", "e3"])
    assert base != alert_id(RULE, GROUP, ["e1", "e2", "e3"])
    assert base != alert_id(RULE, GROUP, ["e1"])


def test_parts_cannot_be_shifted_between_fields() -> None:
    """Moving text between rule id and event id does not collide (the parts are encoded separately)."""
    assert alert_id("ab", {}, ["c"]) != alert_id("a", {}, ["bc"])


def _pydantic_json(alert: Alert) -> bytes:
    return alert.__pydantic_serializer__.to_json(alert)


_TEXT = st.text(max_size=12) | st.sampled_from(["", "é→😀", 'q"uo\\te', "tab\tnl\n\x00\x1f\x7f", "</script>", "a.b`c"])
_SCALAR = st.one_of(_TEXT, st.integers(-(2**70), 2**70), st.floats(), st.booleans(), st.none())
_MOMENT = st.one_of(
    st.datetimes(timezones=st.just(UTC)),  # what stage 1 and 2 raise: Z, microseconds when not zero
    st.datetimes(timezones=st.just(UTC)).map(lambda moment: moment.replace(microsecond=0)),
    st.datetimes(timezones=st.timezones()),  # zones with offsets of seconds: pydantic writes them
)
_RULE = rule_refs(_TEXT)
_TECHNIQUE = techniques(_TEXT)


@st.composite
def _alerts(draw: st.DrawFn) -> Alert:
    first = draw(_MOMENT)
    return Alert(
        id=draw(_TEXT),
        rule=draw(_RULE),
        group=draw(st.dictionaries(_TEXT, _SCALAR, max_size=4)),
        count=draw(st.integers(1, 2**40)),
        first_seen=first,
        last_seen=draw(st.just(first) | _MOMENT),
        event_ids=draw(st.lists(_TEXT, min_size=1, max_size=4)),
        hunt=draw(_TEXT),
        severity=draw(st.none() | _TEXT),
        risk_score=draw(st.none() | st.integers(0, 100)),
        attack=draw(st.lists(_TECHNIQUE, max_size=3)),
        asset=draw(st.dictionaries(_TEXT, _TEXT, max_size=3)),
        ends_at=draw(st.none() | _MOMENT),
    )


@settings(max_examples=500)
@given(_alerts())
def test_alert_json_is_byte_for_byte_what_pydantic_writes(alert: Alert) -> None:
    """Sinks and stage 2 read the alert record as pydantic wrote it: to_json writes the same bytes."""
    assert alert.to_json() == _pydantic_json(alert)


class _RuleRefWithMore(RuleRef):
    extra: str = "not in the alert schema"


SAMPLE = Alert(
    id="a1",
    rule=RuleRef(id="r1", title="Brute force", tags=["attack.t1110"]),
    count=1,
    first_seen=datetime(2026, 11, 26, 6, 0, 0, 120000, tzinfo=UTC),
    last_seen=datetime(2026, 11, 26, 6, 0, tzinfo=UTC),
    event_ids=["d857fef6.ResponseComplete-1"],
    hunt='{module="kubernetes"} | json | id=~`d857fef6\\.ResponseComplete-1`',
    attack=[Technique(id="T1110", name="Brute Force", tactics=["Credential Access"])],
    asset={"owner": "ops"},
)


@pytest.mark.parametrize(
    "update",
    [
        {},
        {"ends_at": datetime(2026, 11, 26, 6, 10, tzinfo=UTC)},
        {"group": {"big": 2**64, "small": -(2**63) - 1}},  # past orjson's 64 bits
        {"last_seen": datetime(1915, 1, 1, tzinfo=timezone(timedelta(seconds=-52)))},  # an offset in seconds
        {"first_seen": datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=1)))},
        {"rule": _RuleRefWithMore(id="r1", title="subclass")},  # written by RuleRef's fields
    ],
)
def test_alerts_orjson_cannot_write_alike_are_written_by_pydantic(update: dict[str, object]) -> None:
    """Where orjson would differ or fail, the record is still exactly pydantic's."""
    alert = SAMPLE.model_copy(update=update)
    assert alert.to_json() == _pydantic_json(alert)


def test_an_alert_pydantic_cannot_write_fails_as_it_did() -> None:
    """A lone surrogate is not UTF-8: the error is still pydantic's, not orjson's."""
    alert = SAMPLE.model_copy(update={"group": {"surrogate": "\ud800"}})
    with pytest.raises(PydanticSerializationError):
        alert.to_json()


def test_frozen_json_is_the_models_json_and_follows_a_new_model() -> None:
    """A cached rule's JSON is its model_dump_json; a reloaded rule with the same id gets its own."""
    before = RuleRef(id="r1", title="old title")
    after = RuleRef(id="r1", title="new title")
    assert frozen_json(before) == before.model_dump_json().encode()
    assert frozen_json(after) == after.model_dump_json().encode()
    assert frozen_json(before) == before.model_dump_json().encode()
