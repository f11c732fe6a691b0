"""Decoding only the raw paths rules read gives what walking the whole payload gives, whatever the shape."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.recorded import corpus_events
from services.shared.envelope import Envelope, FieldReader, InvalidEnvelope, decode, projection_of, raw_paths
from services.shared.event import Event
from services.shared.projection import MISSING, Projection, dotted

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

# Few names, so generated documents and paths meet: keys holding dots, lists on the way, empty segments.
_SEGMENTS = st.sampled_from(["a", "b", "c", ""])
_KEYS = st.lists(_SEGMENTS, min_size=1, max_size=3).map(".".join)
_PATHS = st.lists(_SEGMENTS, min_size=1, max_size=4).map(".".join)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=3)
)
_JSON = st.recursive(
    _SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4), max_leaves=20
)


def _exactly(value: Any) -> Any:
    """A value compared with its JSON types (`1`, `1.0` and `true` are equal in Python, not here)."""
    return "<missing>" if value is MISSING else msgspec.json.encode(value)


@settings(max_examples=500, deadline=None)
@given(document=_JSON, paths=st.lists(_PATHS, min_size=1, max_size=5))
def test_a_projection_reads_what_walking_the_whole_payload_reads(document: Any, paths: list[str]) -> None:
    """Over generated JSON and paths (dotted keys, lists, scalars on the way), each projected read equals `dotted`'s."""
    raw = msgspec.json.encode(document)
    payload = msgspec.json.decode(raw)
    projection = Projection(paths)
    projected = projection.decode(msgspec.Raw(raw))
    for path in paths:
        assert _exactly(projection.read(projected, path, MISSING)) == _exactly(dotted(payload, path, MISSING)), path


def _paths_in(value: Any, prefix: str = "", depth: int = 4) -> set[str]:
    """Every dotted path a document holds (through lists, as `dotted` goes), to `depth` keys."""
    if isinstance(value, list):
        return set().union(*(_paths_in(item, prefix, depth) for item in value))
    if not isinstance(value, dict) or depth == 0:
        return set()
    found: set[str] = set()
    for key, inner in value.items():
        path = f"{prefix}{key}"
        found |= {path} | _paths_in(inner, f"{path}.", depth - 1)
    return found


def test_every_corpus_audit_event_reads_the_same_through_its_projection(corpus: Path) -> None:
    """Over the corpus' Kubernetes audit events, every path they hold (and some they lack) reads as without it."""
    events = corpus_events(corpus)["k8s_audit"]
    assert len(events) > 50
    for event in events:
        envelope = Envelope.of(event)
        paths = _paths_in(event.raw) | {"objectRef.missing", "verb.deeper", "annotations.authorization.k8s.io/decision"}
        projection = projection_of(paths)
        assert projection is not None
        projected, whole = FieldReader(envelope, projection), FieldReader(envelope)
        for path in sorted(paths):
            assert _exactly(projected.get(path, MISSING)) == _exactly(whole.get(path, MISSING)), path
        # A projection of the few paths rules read, as stage 1 has it, reads them alike too.
        few = projection_of(["objectRef.resource", "objectRef.subresource", "verb", "user.username", "sourceIPs"])
        for path in few.paths if few else ():
            assert _exactly(FieldReader(envelope, few).get(path, MISSING)) == _exactly(whole.get(path, MISSING)), path


def _envelope(raw_json: bytes) -> Envelope:
    envelope = Envelope.of(Event(id="e-1", time=T0, ingested=T0, raw={"placeholder": 0}))
    return decode(msgspec.json.encode(envelope).replace(b'{"placeholder":0}', raw_json))


def test_a_value_a_rule_reads_that_cannot_be_decoded_refuses_the_event() -> None:
    """A number no double holds, in a projected path, is InvalidEnvelope naming `$.raw…`, as without projection."""
    envelope = _envelope(b'{"size":1e999,"note":"x"}')
    projection = projection_of(["size", "note"])
    with pytest.raises(InvalidEnvelope, match=re.escape("Number out of range - at `$.raw")):
        FieldReader(envelope, projection).get("note")


def test_what_no_rule_of_the_logsource_reads_is_only_syntax_checked() -> None:
    """The rest of raw is skipped: a number out of range there refuses the event only when a name outside reads raw."""
    envelope = _envelope(b'{"size":1e999,"note":"x"}')
    reader = FieldReader(envelope, projection_of(["note"]))
    assert reader.get("note") == "x"
    with pytest.raises(InvalidEnvelope, match=re.escape("$.raw")):
        reader.get("size")  # not projected: read from the full payload, which cannot be decoded


def test_names_the_envelope_always_answers_are_left_out_of_the_projection() -> None:
    """`id` and `labels.x` never read raw; an ECS name does when the source left it out, so it is projected."""
    assert raw_paths(["id", "labels.app", "user.name", "message", "verb", "id.x"]) == {
        "user.name",
        "message",
        "verb",
        "id.x",
    }
    assert projection_of(["id", "labels.app"]) is None


def test_an_ecs_name_the_source_left_out_reads_raw_through_the_projection() -> None:
    """The envelope's value comes first; without one, the projected raw path answers, as the full payload would."""
    raw = {"user": {"name": "from-raw"}, "message": "raw text"}
    normalised = Envelope.of(Event(id="e-1", time=T0, ingested=T0, raw=raw, message="the line"))
    bare = Envelope.of(Event(id="e-1", time=T0, ingested=T0, raw=raw))
    projection = projection_of(["user.name", "message"])
    for envelope in (normalised, bare):
        projected, whole = FieldReader(envelope, projection), FieldReader(envelope)
        assert [projected.get(n) for n in ("user.name", "message")] == [whole.get(n) for n in ("user.name", "message")]
    assert FieldReader(normalised, projection).get("message") == "the line"
    assert FieldReader(bare, projection).get("message") == "raw text"


def test_a_deep_path_needs_one_type_per_key_and_reads_as_dotted() -> None:
    """Splits into dotted keys share the objects they reach: 30 keys, 2^29 splits, are 30 Struct types."""
    deep = ".".join(["k"] * 30)
    projection = Projection([deep, "verb"])
    raw: Any = "leaf"
    for _ in range(30):
        raw = {"k": raw}
    shortcut = {"k": {"k.k": raw["k"]["k"]["k"]}}  # the same path, two of its keys written as one
    for document in (raw | {"verb": "get"}, shortcut):
        payload = msgspec.json.encode(document)
        projected = projection.decode(msgspec.Raw(payload))
        for path in (deep, "verb"):
            expected = dotted(msgspec.json.decode(payload), path, MISSING)
            assert _exactly(projection.read(projected, path, MISSING)) == _exactly(expected)
    assert projection.read(projection.decode(msgspec.Raw(msgspec.json.encode(shortcut))), deep) == "leaf"
