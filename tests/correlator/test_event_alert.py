"""Stage 1's alerts, written from a rule's template: pydantic's exact bytes, the same ids and models as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.correlator.enrich import Enricher
from services.correlator.event_alert import AlertedEvent, AlertTemplate, EventAlert
from services.correlator.hunt import event_hunt
from services.shared.alert import Alert, RuleRef, Technique, alert_id
from tests.alert_strategies import LEVELS, rule_refs

_TEXT = st.text(max_size=12) | st.sampled_from(["", "é→😀", 'q"uo\\te', "tab\tnl\n\x00\x1f\x7f", "%b %s %%", "a.b`c"])
_ID = st.text(min_size=1, max_size=40) | st.sampled_from(["f85dbf1c93dea2616126d77733c1c20d-0", "k8s.audit-(1)|`x`"])
_MOMENT = st.one_of(
    st.datetimes(timezones=st.just(UTC)),  # what stage 1 reads off the bus
    st.datetimes(timezones=st.just(UTC)).map(lambda moment: moment.replace(microsecond=0)),
    st.datetimes(timezones=st.timezones()),  # offsets other than UTC: pydantic writes those
)
_RULE = rule_refs(_TEXT, (*LEVELS, "odd%level"))
_ENRICHMENT = st.fixed_dictionaries(
    {
        "severity": st.none() | _TEXT,
        "risk_score": st.none() | st.integers(0, 100),
        "attack": st.lists(st.builds(Technique, id=_TEXT, name=_TEXT, tactics=st.lists(_TEXT, max_size=3)), max_size=2),
        "asset": st.dictionaries(_TEXT, _TEXT, max_size=2),
    }
)


def _as_before(ref: RuleRef, enrichment: dict[str, object], event_id: str, time: datetime, module: str) -> Alert:
    """The alert as stage 1 built it before templates: constructed field by field from validated parts."""
    return Alert.model_construct(
        id=alert_id(ref.id, {}, [event_id]),
        rule=ref,
        group={},
        count=1,
        first_seen=time,
        last_seen=time,
        event_ids=[event_id],
        hunt=event_hunt(module, event_id),
        **enrichment,
    )


@settings(max_examples=500)
@given(_RULE, _ENRICHMENT, _ID, _MOMENT, st.sampled_from(["kubernetes", "system", 'o"dd\\']), st.none() | _MOMENT)
def test_an_event_alert_is_the_alert_stage_1_built_and_writes_pydantics_bytes(
    ref: RuleRef, enrichment: dict[str, object], event_id: str, time: datetime, module: str, ends_at: datetime | None
) -> None:
    """Same values (id included, a fingerprint replays depend on), and the record byte for byte pydantic's."""
    raised = EventAlert(AlertTemplate(ref, enrichment), AlertedEvent(event_id, time, module), ends_at)
    expected = _as_before(ref, enrichment, event_id, time, module)
    if ends_at is not None:
        expected = expected.model_copy(update={"ends_at": ends_at})
    alert = raised.alert()
    assert alert == expected and alert.model_fields_set == expected.model_fields_set
    assert raised.to_json() == expected.__pydantic_serializer__.to_json(expected)


@settings(max_examples=200)
@given(_RULE)
def test_every_rule_gets_a_template(ref: RuleRef) -> None:
    """The template agrees with pydantic for any rule: its alerts are not left to the slow path."""
    assert AlertTemplate(ref, Enricher().enrichment(ref, {})).prepared


def test_a_suppressed_alert_ends_when_its_rule_may_speak_again() -> None:
    """`ends_at` (from suppression) is written in UTC with a Z, as pydantic writes it."""
    ref = RuleRef(id="r1", title="Brute force", level="high", tags=["attack.t1110"])
    time = datetime(2026, 11, 26, 6, 0, 0, 120000, tzinfo=UTC)
    raised = EventAlert(
        AlertTemplate(ref, Enricher().enrichment(ref, {})),
        AlertedEvent("e1", time, "system"),
        time + timedelta(minutes=10),
    )
    assert b'"ends_at":"2026-11-26T06:10:00.120000Z"}' in raised.to_json()
    assert raised.rule is ref and raised.template.key == b"r1"


@settings(max_examples=100)
@given(st.lists(_RULE, min_size=2, max_size=4, unique_by=lambda ref: ref.id), _ID, _MOMENT, st.none() | _MOMENT)
def test_the_alerts_of_one_event_share_its_written_parts_and_each_is_pydantics_bytes(
    refs: list[RuleRef], event_id: str, time: datetime, ends_at: datetime | None
) -> None:
    """The event's id, time and hunt query are written once (the first alert), and reused by the others unchanged."""
    event = AlertedEvent(event_id, time, "kubernetes")
    for ref in refs:
        enrichment = Enricher().enrichment(ref, {})
        expected = _as_before(ref, enrichment, event_id, time, "kubernetes")
        if ends_at is not None:
            expected = expected.model_copy(update={"ends_at": ends_at})
        assert EventAlert(AlertTemplate(ref, enrichment), event, ends_at).to_json() == expected.to_json()
