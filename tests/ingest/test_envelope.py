"""msgspec's checked document and pydantic's `Event` give the same JSON, or msgspec steps aside."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import event as note
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.recorded import corpus_events, generic_object
from services.ingest.envelope import checked_envelope, envelope
from services.ingest.sources.generic import _document, _validated
from services.shared.envelope import decode

RECEIVED = datetime(2024, 5, 1, 12, tzinfo=UTC)


def _both(posted: Any) -> tuple[bytes | None, bytes | None]:
    """Two writings of a posted object: msgspec's (None: it steps aside) and pydantic's (None: refused).

    The object goes through JSON as a posted one does (stdlib's, which writes integers of any size).
    """
    raw = json.dumps(posted).encode()
    item = orjson.loads(raw)
    document = _document(item, RECEIVED)
    before = copy.deepcopy(document)
    fast = checked_envelope(document, raw)
    assert document == before, "the document (the posted item's own sets) must be left as it was"
    try:
        slow: bytes | None = envelope(_validated(document, item), raw)
    except ValueError:
        slow = None
    return fast, slow


def _assert_same(fast: bytes | None, slow: bytes | None) -> None:
    if fast is None:
        return  # pydantic decides alone: coerced or refused as before
    assert slow is not None, "msgspec accepted what pydantic refuses"
    assert orjson.loads(fast) == orjson.loads(slow)
    assert decode(fast) == decode(slow)


def test_a_plain_item_is_written_without_pydantic_as_pydantic_would() -> None:
    """An item already in the envelope's shape is written by the fast path, to pydantic's JSON value."""
    item = {"id": "a", "time": "2024-05-01T14:00:00.250+02:00", "message": "m", "user": {"name": "ann", "roles": ["r"]}}
    fast, slow = _both(item)
    assert fast is not None
    _assert_same(fast, slow)
    assert orjson.loads(fast)["time"] == "2024-05-01T12:00:00.250000Z"
    assert fast.endswith(b',"raw":' + json.dumps(item).encode() + b"}")


def test_nulls_are_left_out_where_exclude_none_leaves_them_out() -> None:
    """Nulls go from the top level, each field set and a set inside one (`http.request`); deeper objects keep theirs."""
    item = {
        "id": "n",
        "logsource": {"product": "linux", "service": None},
        "event": {"dataset": None, "extra": None, "nested": {"a": None, "b": [None, {"c": None}]}},
        "user": {"name": None, "d": {"k": None}},
        "http": {"request": {"method": None, "z": None}, "response": None},
        "orchestrator": {"q": None},
    }
    fast, slow = _both(item)
    assert fast is not None
    _assert_same(fast, slow)
    written = orjson.loads(fast)
    assert written["event"] == {
        "module": "generic",
        "outcome": "unknown",
        "category": [],
        "nested": item["event"]["nested"],
    }
    assert (written["user"], written["http"], written["orchestrator"]) == ({"d": {"k": None}}, {"request": {}}, {})
    assert written["logsource"] == {"product": "linux"}


@pytest.mark.parametrize(
    "item",
    [
        {"user": {"id": 123}},  # a number for a keyword: pydantic keeps it as text
        {"source": {"port": "22"}},
        {"source": {"port": 22.0}},
        {"process": {"pid": True}},
        {"event": {"category": [1]}},
        {"labels": {"n": 1}},  # refused by pydantic too
        {"logsource": {"product": 7}},
        {"id": "x" * 257},
        {"time": "0001-01-01T00:00:00+05:00"},  # before year 1 in UTC
    ],
)
def test_what_pydantic_would_coerce_or_refuse_is_left_to_pydantic(item: dict[str, Any]) -> None:
    """The fast path steps aside wherever pydantic would change a value or refuse the item."""
    try:
        fast, _ = _both(item)
    except ValueError:  # the time, refused while building the document, as before
        return
    assert fast is None


def test_every_corpus_event_posted_to_the_generic_source_is_written_alike(corpus: Path) -> None:
    """Corpus events, as `POST /v1/events` objects and as envelopes posted back, give the same JSON both ways."""
    events = [event for kind in corpus_events(corpus).values() for event in kind]
    fast_taken = 0
    for event in events:
        for item in (generic_object(event), orjson.loads(event.model_dump_json())):
            fast, slow = _both(item)
            _assert_same(fast, slow)
            fast_taken += fast is not None
    assert fast_taken > len(events)  # most of them: only items pydantic coerces step aside


_text = st.text(st.characters(codec="utf-8"), max_size=12)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text
)
_json = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3), max_leaves=8
)
_keyword = st.none() | _text | st.integers(-5, 5) | st.floats(-1, 1) | st.booleans()
_number = st.none() | st.integers(-(2**63), 2**64 - 1) | st.sampled_from(["22", 22.0, 22.5, True])
_extras = {"extra": _json, "more": st.none() | _text}


def _set(declared: dict[str, Any]) -> Any:
    return st.fixed_dictionaries({}, optional=declared | _extras) | _json


_times = (
    st.datetimes(timezones=st.timezones()).map(datetime.isoformat)
    | st.integers(0, 10**12)
    | st.floats(0, 10**10)
    | st.sampled_from(["2024-05-01T12:00:00Z", "2024-05-01T12:00:00.000001+00:00", "9999-12-31T23:59:59-05:00"])
)
_items = st.fixed_dictionaries(
    {},
    optional={
        "id": st.none() | st.text(min_size=0, max_size=300) | st.integers(),
        "time": _times,
        "message": _keyword,
        "labels": st.dictionaries(_text, _keyword, max_size=2) | _json,
        "logsource": st.fixed_dictionaries({}, optional={"product": _keyword, "service": _keyword, "bogus": _text})
        | _json,
        "event": _set(
            {
                "module": _keyword,
                "dataset": _keyword,
                "action": _keyword,
                "outcome": st.sampled_from(["success", "failure", "unknown", "other"]) | st.none(),
                "category": st.lists(_keyword, max_size=2) | st.none(),
            }
        ),
        "user": _set({"name": _keyword, "id": _keyword}),
        "source": _set({"ip": _keyword, "port": _number}),
        "host": _set({"name": _keyword}),
        "process": _set({"name": _keyword, "pid": _number}),
        "url": _set({"path": _keyword}),
        "http": _set(
            {
                "request": _set({"method": _keyword}) | st.none(),
                "response": _set({"status_code": _number}) | st.none(),
            }
        ),
        "orchestrator": _set({}),
        "payload": _json,
    },
)


@settings(max_examples=500, deadline=None)
@given(_items)
def test_any_item_the_fast_path_writes_reads_as_pydantic_writes_it(item: dict[str, Any]) -> None:
    """For any posted object, msgspec's envelope decodes to pydantic's JSON value and reads back the same in stage 1."""
    try:
        fast, slow = _both(item)
    except ValueError:  # an unreadable time: refused before either writing, as before
        return
    note("written by msgspec" if fast is not None else "left to pydantic")
    _assert_same(fast, slow)
