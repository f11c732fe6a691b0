"""`with_matches`: the enriched record spliced from the envelope's bytes is pydantic's EnrichedEvent, byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest.envelope import envelope
from services.shared.alert import RuleRef
from services.shared.event import EnrichedEvent, Event, LogSource, with_matches
from tests.alert_strategies import rule_refs

_TEXT = st.text(max_size=12) | st.sampled_from(["", "é→😀", 'q"uo\\te', "tab\tnl\n\x00\x1f\x7f", "%b %s %%", "}]"])
_RAW = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)
_EVENT = st.builds(
    Event,
    id=st.text(min_size=1, max_size=40),
    time=st.datetimes(timezones=st.just(UTC)),
    ingested=st.datetimes(timezones=st.just(UTC)),
    logsource=st.builds(LogSource, product=st.none() | _TEXT, service=st.none() | _TEXT),
    message=st.none() | _TEXT,
    raw=_RAW,
)


@settings(max_examples=300)
@given(_EVENT, st.lists(rule_refs(_TEXT), max_size=4), st.sampled_from([b"", b"\n", b" \r\n"]))
def test_the_enriched_record_is_pydantics(event: Event, matches: list[RuleRef], trailing: bytes) -> None:
    """No match, one, several; trailing whitespace (an NDJSON line) too; the bus envelope reads back whole."""
    enriched = EnrichedEvent(**event.__dict__, matches=matches)
    written = event.model_dump_json().encode() + trailing
    assert EnrichedEvent.model_validate_json(with_matches(written, matches)) == enriched
    if matches:
        assert with_matches(written, matches) == enriched.model_dump_json().encode()
    # What ingest puts on the bus leaves nulls out: the record reads back as the same model.
    assert EnrichedEvent.model_validate_json(with_matches(envelope(event) + trailing, matches)) == enriched


def test_an_event_without_matches_is_its_envelope_as_it_came() -> None:
    """Most events match nothing: their record is the envelope itself, not a copy, and reads as matching nothing."""
    event = Event(id="e-1", time=datetime(2026, 11, 26, tzinfo=UTC), ingested=datetime(2026, 11, 26, tzinfo=UTC))
    written = envelope(event)
    assert with_matches(written, []) is written
    assert EnrichedEvent.model_validate_json(with_matches(written + b"\n", [])).matches == []
