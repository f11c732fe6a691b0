"""The generic JSON source: object, array or NDJSON in; events and rejected items (with their bytes) out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.ingest.sources.generic import GenericSource, _parse_time, to_event
from services.ingest.sources.parsed import describe
from services.shared.event import Event, LogSource

SOURCE = GenericSource()


def _parse(body: bytes) -> Any:
    return SOURCE.parse(body, {})


def test_single_object_becomes_one_event() -> None:
    """One JSON object gives one event whose raw is the object as posted."""
    item = {"id": "c-1", "message": "hello", "user": {"name": "alice"}, "labels": {"env": "prod"}, "extra": [1, 2]}
    parsed = _parse(orjson.dumps(item))
    assert parsed.rejected == []
    (event,) = parsed.read_back()
    assert (event.id, event.message, event.raw) == ("c-1", "hello", item)
    assert event.user is not None and event.user.name == "alice"
    assert event.labels == {"env": "prod"}


def test_array_gives_one_event_per_element() -> None:
    """A JSON array of objects gives one event per element, in order."""
    parsed = _parse(b'[{"id": "a"}, {"id": "b"}, {"id": "c"}]')
    assert parsed.ids == ["a", "b", "c"]
    assert parsed.rejected == []


def test_ndjson_keeps_good_lines_and_rejects_the_bad_one() -> None:
    """In NDJSON, a malformed line is rejected with its line number and bytes; the others become events."""
    bad = b'{"id": "b", oops'
    parsed = _parse(b'{"id": "a"}\n' + bad + b'\n\n{"id": "c"}\n')
    assert parsed.ids == ["a", "c"]
    (rejected,) = parsed.rejected
    assert (rejected.error_type, rejected.line, rejected.original) == ("malformed_json", 2, bad)
    assert rejected.reason.startswith("line 2:")


def test_ndjson_non_object_line_is_rejected_as_invalid_event() -> None:
    """A valid JSON line that is not an object is rejected as invalid_event with its line number."""
    parsed = _parse(b'{"id": "a"}\n42\n')
    assert parsed.ids == ["a"]
    (rejected,) = parsed.rejected
    assert (rejected.error_type, rejected.line, rejected.original) == ("invalid_event", 2, b"42")


@pytest.mark.parametrize("body", [b"", b"   \n\t "])
def test_empty_body_is_rejected(body: bytes) -> None:
    """An empty (or blank) body gives no event and one empty_body rejection."""
    parsed = _parse(body)
    assert parsed.ids == []
    assert [r.error_type for r in parsed.rejected] == ["empty_body"]


def test_malformed_single_document_is_rejected_whole() -> None:
    """A body that is neither JSON nor NDJSON is one malformed_json rejection carrying the whole body."""
    parsed = _parse(b"{not json")
    assert parsed.ids == []
    (rejected,) = parsed.rejected
    assert (rejected.error_type, rejected.original, rejected.line) == ("malformed_json", b"{not json", None)


@pytest.mark.parametrize("body", [b'"text"', b"17", b"null", b'[1, {"id": "ok"}]'])
def test_non_object_json_is_rejected(body: bytes) -> None:
    """A JSON value that is not an object (alone or in an array) is rejected as invalid_event."""
    parsed = _parse(body)
    assert all(r.error_type == "invalid_event" for r in parsed.rejected)
    assert len(parsed.rejected) == 1
    assert parsed.ids == (["ok"] if body.startswith(b"[") else [])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T14:00:00+02:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        (1714564800, datetime(2024, 5, 1, 12, tzinfo=UTC)),
        (1714564800.5, datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)),
        (1714564800123, datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)),
    ],
)
def test_time_forms_are_understood(value: Any, expected: datetime) -> None:
    """`time` as RFC 3339 text, epoch seconds or epoch milliseconds gives the same UTC instant."""
    (event,) = _parse(orjson.dumps({"time": value})).read_back()
    assert event.time == expected
    assert event.time.utcoffset() is not None and event.time.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("key", ["@timestamp", "timestamp"])
def test_alternative_time_keys(key: str) -> None:
    """`@timestamp` and `timestamp` are read when `time` is absent."""
    (event,) = _parse(orjson.dumps({key: "2024-05-01T12:00:00Z"})).read_back()
    assert event.time == datetime(2024, 5, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize("value", ["yesterday", True, {"at": 1}])
def test_bad_time_is_rejected(value: Any) -> None:
    """An unreadable `time` rejects the item as invalid_event with a reason naming the time."""
    parsed = _parse(orjson.dumps({"time": value}))
    assert parsed.ids == []
    (rejected,) = parsed.rejected
    assert rejected.error_type == "invalid_event" and "time" in rejected.reason


def test_missing_time_is_the_receive_time() -> None:
    """Without any time key, the event time is when it was received (and equals `ingested`)."""
    (event,) = _parse(b'{"message": "x"}').read_back()
    assert event.time == event.ingested
    assert abs((datetime.now(UTC) - event.time).total_seconds()) < 60


def test_client_id_is_kept_and_missing_id_is_generated() -> None:
    """A client `id` is used as the event id; without one each event gets its own unique id."""
    parsed = _parse(b'{"id": 1234}\n{"x": 1}\n{"x": 2}')
    assert parsed.ids[0] == "1234"
    assert parsed.ids[1] and parsed.ids[1] != parsed.ids[2]


def test_logsource_is_carried_or_defaults_to_generic() -> None:
    """An item's own logsource is kept; without one it answers to {product: generic}."""
    parsed = _parse(b'{"logsource": {"product": "linux", "service": "sshd"}}\n{"id": "x"}')
    assert [e.logsource for e in parsed.read_back()] == [
        LogSource(product="linux", service="sshd"),
        LogSource(product="generic"),
    ]


def test_items_naming_one_logsource_share_one_validated_instance() -> None:
    """Items naming one logsource get one (frozen) LogSource from `to_event`, validated once, equal to their own."""
    item = {"logsource": {"product": "linux", "service": "sshd", "category": None}}
    first, second = (to_event(item, datetime(2024, 5, 1, tzinfo=UTC)) for _ in range(2))
    assert first.logsource is second.logsource
    assert first.logsource == LogSource(product="linux", service="sshd")


@pytest.mark.parametrize(
    ("logsource", "reason"),
    [
        ({"product": "linux", "bogus": "x"}, "line {n}: bogus: Extra inputs are not permitted"),
        ({"product": 7}, "line {n}: product: Input should be a valid string"),
        ({"product": ["linux"]}, "line {n}: product: Input should be a valid string"),
        ("linux", "line {n}: event: Input should be a valid dictionary or instance of LogSource"),
    ],
)
def test_a_bad_logsource_is_rejected_every_time_with_its_reason(logsource: Any, reason: str) -> None:
    """A bad logsource rejects each item carrying it, each time with the field and pydantic's message."""
    line = orjson.dumps({"logsource": logsource})
    parsed = _parse(line + b"\n" + line + b'\n{"id": "ok"}')
    assert parsed.ids == ["ok"]
    assert [r.reason for r in parsed.rejected] == [reason.format(n=1), reason.format(n=2)]


def test_a_logsource_equal_in_value_but_not_in_type_is_not_taken_for_a_remembered_one() -> None:
    """After {product: "1"} is remembered, {product: 1} (equal hash, not equal text) is still refused."""
    parsed = _parse(b'{"logsource": {"product": "1"}}\n{"logsource": {"product": 1}}\n{"logsource": {"product": true}}')
    assert [e.logsource.product for e in parsed.read_back()] == ["1"]
    assert [r.line for r in parsed.rejected] == [2, 3]


@pytest.mark.parametrize("value", [1e300, -1e300, "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"])
def test_out_of_range_time_is_rejected_not_raised(value: Any) -> None:
    """A time outside what datetime can hold rejects the item instead of raising out of parse."""
    parsed = _parse(orjson.dumps({"time": value}))
    assert [r.error_type for r in parsed.rejected] == ["invalid_event"]


def _count_items(body: bytes) -> int:
    """How many items the body holds, by the documented rules (oracle for the property tests)."""
    if not body.strip():
        return 1
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        lines = [line for line in body.split(b"\n") if line.strip()]
        return 1 if len(lines) < 2 else len(lines)
    return len(document) if isinstance(document, list) else 1


_text = st.text(st.characters(codec="utf-8"), max_size=20)
_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(-1e15, 1e15) | _text
# Times stay within datetime's range here; the out-of-range ones are test_out_of_range_time_is_rejected_not_raised.
_time_values = st.none() | st.integers(-(10**13), 10**13) | st.sampled_from(["2024-05-01T12:00:00Z", "nope", ""])
_json = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4), max_leaves=12
)
_objects = st.fixed_dictionaries(
    {},
    optional={
        "id": _scalars,
        "time": _time_values,
        "message": _json,
        "labels": _json,
        "logsource": _json | st.fixed_dictionaries({}, optional={"product": _text, "bogus": _text}),
        "user": _json,
        "event": _json | st.fixed_dictionaries({}, optional={"outcome": _text, "category": _json}),
    },
)
_items = _objects | _json


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_and_every_item_is_accounted_for(body: bytes) -> None:
    """For any bytes, parse returns normally and every item is either an event or a rejection."""
    parsed = _parse(body)
    assert len(parsed.ids) + len(parsed.rejected) == _count_items(body)


@settings(max_examples=300, deadline=None)
@given(st.lists(_items, min_size=1, max_size=5), st.sampled_from(["ndjson", "array"]))
def test_arbitrary_json_values_never_raise_and_every_item_is_accounted_for(items: list[Any], form: str) -> None:
    """For any JSON values posted as NDJSON or an array, each becomes an event or a rejection, never an exception."""
    assume(form == "array" or len(items) >= 2)  # a one-line body is a single JSON document, not NDJSON
    body = orjson.dumps(items) if form == "array" else b"\n".join(orjson.dumps(i) for i in items)
    parsed = _parse(body)
    assert len(parsed.ids) + len(parsed.rejected) == len(items)
    for event in parsed.read_back():
        assert event.raw in items


def _validated_whole(item: dict[str, Any], received: datetime) -> Event:
    """The mapping as DESIGN.md states it, written plainly: every logsource validated, one dict for the model."""
    event_time = next((item[k] for k in ("time", "@timestamp", "timestamp") if item.get(k) is not None), None)
    logsource, message = item.get("logsource"), item.get("message")
    sets = ("event", "user", "source", "destination", "host", "process", "url", "http", "orchestrator")
    document: dict[str, Any] = {"event": {}} | {k: item[k] for k in sets if isinstance(item.get(k), dict)}
    document |= {
        "id": str(item["id"]) if item.get("id") not in (None, "") else "generated",
        "time": _parse_time(event_time) if event_time is not None else received,
        "ingested": received,
        "logsource": LogSource.model_validate(logsource) if logsource else LogSource(product="generic"),
        "message": message if isinstance(message, str) else None,
        "labels": item.get("labels") or {},
        "raw": item,
    }
    return Event.model_validate(document)


_logsources = st.sampled_from([{"product": "linux"}, {"product": "linux", "service": "sshd"}]) | st.dictionaries(
    st.sampled_from(["product", "service", "category", "bogus"]), st.none() | _text | st.integers() | st.booleans()
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_objects | st.fixed_dictionaries({"logsource": _logsources}), min_size=2, max_size=6))
def test_items_become_what_validating_each_whole_would_make(items: list[dict[str, Any]]) -> None:
    """Each item gives the event (or the rejection reason) a plain validation of the whole item gives."""
    received = datetime(2024, 5, 1, tzinfo=UTC)
    for number, item in enumerate(items, start=1):
        try:
            expected: Event | str = _validated_whole(item, received)
        except (ValueError, TypeError) as exc:
            expected = describe(exc)
        try:
            got: Event | str = to_event(item, received)
        except (ValueError, TypeError) as exc:
            got = describe(exc)
        if isinstance(got, Event) and isinstance(expected, Event) and item.get("id") in (None, ""):
            got = got.model_copy(update={"id": "generated"})
        assert got == expected, number
