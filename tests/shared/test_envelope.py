"""The envelope stage 1 reads: `Event`'s contract checked while msgspec decodes, and how rules read its fields."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from pydantic import ValidationError

from benchmarks.recorded import corpus_events
from services.ingest.envelope import envelope as written_by_ingest
from services.shared.envelope import (
    CHECKED_FIELD_SETS,
    GENERIC,
    Envelope,
    EnvelopeLogSource,
    FieldReader,
    InvalidEnvelope,
    decode,
)
from services.shared.event import Event, EventInfo, Http, HttpResponse, LogSource, User

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
VALID = {"id": "e-1", "time": "2024-05-01T12:00:00Z", "ingested": "2024-05-01T12:00:00Z"}


def _event(raw: Any = None, **fields: Any) -> Event:
    return Event(id="e-1", time=T0, ingested=T0, raw=raw, **fields)


def _with(**changes: Any) -> bytes:
    return msgspec.json.encode(VALID | changes)  # orjson stops at 64-bit integers


def test_ecs_name_reads_the_normalised_value() -> None:
    """An ECS name (user.name) reads the normalised field, not what the raw payload says."""
    reader = FieldReader(Envelope.of(_event(raw={"user": {"name": "from-raw"}}, user=User(name="alice"))))
    assert reader.get("user.name") == "alice"


def test_nested_ecs_fields_and_id_are_readable() -> None:
    """Deeper ECS names, logsource, labels and the envelope id read from the normalised event."""
    event = _event(
        http=Http(response=HttpResponse(status_code=403)),
        logsource=LogSource(product="linux", service="sshd"),
        labels={"env": "prod"},
        event=EventInfo(module="system", action="login", outcome="failure"),
    )
    reader = FieldReader(Envelope.of(event))
    assert reader.get("http.response.status_code") == 403
    assert reader.get("logsource.service") == "sshd"
    assert reader.get("labels.env") == "prod"
    assert reader.get("event.outcome") == "failure"
    assert reader.get("id") == "e-1"


def test_ecs_name_the_source_did_not_normalise_falls_back_to_raw() -> None:
    """An ECS name absent from the normalised fields reads the same path in raw (ECS-shaped generic JSON)."""
    reader = FieldReader(Envelope.of(_event(raw={"source": {"ip": "203.0.113.7"}})))
    assert reader.get("source.ip") == "203.0.113.7"


def test_other_names_are_dotted_paths_into_raw() -> None:
    """A non-ECS name such as objectRef.resource walks nested dicts of the raw payload."""
    raw = {"objectRef": {"resource": "secrets", "namespace": "kube-system"}, "verb": "get"}
    reader = FieldReader(Envelope.of(_event(raw=raw)))
    assert reader.get("objectRef.resource") == "secrets"
    assert reader.get("verb") == "get"


def test_keys_that_contain_dots_are_found() -> None:
    """Raw keys with dots in them (k8s annotations, flat dotted keys) are matched whole."""
    raw = {
        "annotations": {"authorization.k8s.io/decision": "allow"},
        "kubernetes.io.flat": "yes",
        "a.b": {"c": 1},
    }
    reader = FieldReader(Envelope.of(_event(raw=raw)))
    assert reader.get("annotations.authorization.k8s.io/decision") == "allow"
    assert reader.get("kubernetes.io.flat") == "yes"
    assert reader.get("a.b.c") == 1


def test_falsy_values_are_not_mistaken_for_missing() -> None:
    """A raw value of 0, False or "" is returned as such, not as None."""
    reader = FieldReader(Envelope.of(_event(raw={"a": {"zero": 0, "no": False, "empty": ""}})))
    assert (reader.get("a.zero"), reader.get("a.no"), reader.get("a.empty")) == (0, False, "")


@pytest.mark.parametrize("name", ["missing", "objectRef.missing", "user.name", "labels.env", "verb.deeper"])
def test_missing_fields_read_as_none(name: str) -> None:
    """A field neither normalised nor present in raw reads as None."""
    reader = FieldReader(Envelope.of(_event(raw={"objectRef": {"resource": "pods"}, "verb": "get"})))
    assert reader.get(name) is None


def test_raw_that_is_not_an_object_gives_none() -> None:
    """When raw is a string (or absent), non-ECS names read as None rather than raising."""
    assert FieldReader(Envelope.of(_event(raw="a text line"))).get("objectRef.resource") is None
    assert FieldReader(Envelope.of(_event())).get("anything") is None


def test_reader_answers_what_the_flattened_event_holds_for_every_corpus_event(corpus: Path) -> None:
    """Over real events of every kind, each normalised name reads its flattened value; a set's name reads raw."""
    events = [event for kind in corpus_events(corpus).values() for event in kind[:300]]
    assert len(events) > 300
    for event in events:
        flat = event.normalised()
        reader = FieldReader(Envelope.of(event))
        for name, value in flat.items():
            assert reader.get(name) == value, name
        bare = FieldReader(Envelope.of(Event(id=event.id, time=event.time, ingested=event.ingested, raw=event.raw)))
        for name in {n.rsplit(".", 1)[0] for n in flat if "." in n} - set(flat):
            # a field set itself (`user`) is no normalised value: the raw payload's same path answers
            assert reader.get(name, "absent") == bare.get(name, "absent"), name


def test_the_envelope_has_the_fields_of_event_and_checks_every_set_that_types_names() -> None:
    """Same top-level names and logsource as `Event`; each field set whose model types a name is checked."""
    assert set(Envelope.__struct_fields__) == set(Event.model_fields)
    assert set(EnvelopeLogSource.__struct_fields__) == set(LogSource.model_fields)
    assert set(CHECKED_FIELD_SETS) == {"event", "user", "source", "destination", "host", "process", "url", "http"}
    assert CHECKED_FIELD_SETS["http"].__struct_fields__ == ("request", "response")


def test_every_corpus_event_as_ingest_writes_it_reads_as_the_event_does(corpus: Path) -> None:
    """Over real events of every kind, written as ingest writes them (and with nulls), every field reads the same."""
    events = [event for kind in corpus_events(corpus).values() for event in kind[:300]]
    assert len(events) > 300
    for event in events:
        flat = event.normalised()
        for data in (written_by_ingest(event), event.model_dump_json().encode()):
            envelope = decode(data)
            assert (envelope.id, envelope.time, envelope.logsource.product) == (
                event.id,
                event.time,
                event.logsource.product,
            )
            assert envelope.module == event.event.module
            assert envelope.payload() == event.raw
            reader = FieldReader(envelope)
            assert {name: reader.get(name) for name in flat} == flat


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b'{"id": "e-1"', "truncated"),
        (b"[]", "object"),
        (orjson.dumps({k: v for k, v in VALID.items() if k != "id"}), "id"),
        (_with(id=""), "$.id"),
        (_with(id="x" * 257), "$.id"),
        (_with(time="2024-05-01T12:00:00"), "$.time"),
        (_with(time="yesterday"), "$.time"),
        (_with(surprise=1), "surprise"),
        (_with(logsource={"product": "linux", "vendor": "x"}), "vendor"),
        (_with(logsource={"product": 1}), "$.logsource.product"),
        (_with(event={"outcome": "maybe"}), "$.event.outcome"),
        (_with(event={"category": "iam"}), "$.event.category"),
        (_with(event=None), "$.event"),
        (_with(user="alice"), "$.user"),
        (_with(user={"name": ["a"]}), "$.user.name"),
        (_with(source={"port": 1.5}), "$.source.port"),
        (_with(http={"response": {"status_code": "x"}}), "$.http.response.status_code"),
        # one typed name of every checked set: the reason names the set, whichever place it has in the check
        (_with(event={"module": ["x"]}), "$.event.module"),
        (_with(event={"dataset": {}}), "$.event.dataset"),
        (_with(destination={"port": "x"}), "$.destination.port"),
        (_with(host={"name": ["h"]}), "$.host.name"),
        (_with(process={"pid": "x"}), "$.process.pid"),
        (_with(url={"path": {}}), "$.url.path"),
        (_with(http={"request": {"method": ["GET"]}}), "$.http.request.method"),
        (_with(host={"name": "h"}, url={"path": []}), "$.url.path"),
        (_with(labels={"env": 1}), "$.labels"),
        (_with(message=5), "$.message"),
        (_with(time="0001-01-01T00:00:00+05:00"), "time"),
    ],
)
def test_what_event_refuses_the_envelope_refuses_naming_the_field(data: bytes, where: str) -> None:
    """Bad envelopes are refused by both readings, and the envelope's reason says where."""
    with pytest.raises(ValidationError):
        Event.model_validate_json(data)
    with pytest.raises(InvalidEnvelope, match=r"(?i)" + re.escape(where)):
        decode(data)


def test_raw_is_decoded_when_read_and_what_cannot_be_is_refused_then() -> None:
    """`raw` is kept as text until a rule reads it: its UTF-8 is checked at once, its numbers when read."""
    not_utf8 = _with(raw={"note": "x"}).replace(b'"x"', b'"\xff"')
    with pytest.raises(ValidationError):
        Event.model_validate_json(not_utf8)
    with pytest.raises(InvalidEnvelope, match=re.escape("$.raw")):
        decode(not_utf8)

    # pydantic reads this as infinity; JSON has none, and no rule could mean it.
    too_large = _with(raw={"size": 1, "note": "x"}).replace(b'"size":1', b'"size":1e999')
    envelope = decode(too_large)  # syntax checked, the number not yet
    assert FieldReader(envelope).get("id") == VALID["id"]  # a field the envelope holds needs no raw
    with pytest.raises(InvalidEnvelope, match=re.escape("Number out of range - at `$.raw")):
        FieldReader(envelope).get("size")


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (_with(user={"id": 12345}), "$.user.id"),
        (_with(source={"port": "22"}), "$.source.port"),
        (_with(time=1714564800), "$.time"),
    ],
)
def test_what_event_would_coerce_the_envelope_refuses(data: bytes, where: str) -> None:
    """Only another producer writes these (ours write what `Event` made): refused with the field named, not guessed."""
    Event.model_validate_json(data)
    with pytest.raises(InvalidEnvelope, match=re.escape(where)):
        decode(data)


def test_defaults_are_those_of_event() -> None:
    """An envelope with only id and times answers like an `Event` built with only those."""
    envelope = decode(_with())
    event = Event.model_validate(VALID)
    assert envelope.logsource == GENERIC
    assert (envelope.logsource.product, envelope.logsource.service) == (event.logsource.product, None)
    assert envelope.event == {"module": "generic", "outcome": "unknown", "category": []}
    assert {n: FieldReader(envelope).get(n) for n in event.normalised()} == event.normalised()


def test_times_read_in_utc_whatever_offset_was_written() -> None:
    envelope = decode(_with(time="2024-05-01T14:00:00+02:00", ingested="2024-05-01T09:00:00-03:00"))
    assert envelope.time == envelope.ingested == T0
    assert envelope.time.tzinfo is UTC
    assert FieldReader(envelope).get("time") == "2024-05-01T12:00:00Z"


def test_integers_past_64_bits_and_extra_ecs_names_are_kept() -> None:
    """JSON allows any integer; an ECS name the envelope does not type passes through and reads."""
    envelope = decode(_with(raw={"big": 2**70}, user={"name": "alice", "roles": ["admin"]}))
    assert envelope.payload() == {"big": 2**70}
    assert FieldReader(envelope).get("user.roles") == ["admin"]
    assert FieldReader(envelope).get("big") == 2**70


def test_an_empty_field_set_reads_as_event_reads_it() -> None:
    """`user: {}` is an empty model in `Event`, not a value: its name reads raw's, as there."""
    event = _event(raw={"user": "from-raw"}, user=User(), http=Http(response=HttpResponse()))
    envelope = Envelope.of(event)
    assert envelope.user == {} and envelope.http == {"response": {}}
    assert FieldReader(envelope).get("user") == "from-raw"
    assert FieldReader(envelope).get("http.response") is None
    assert FieldReader(envelope).get("labels") == event.normalised()["labels"] == {}


def test_of_gives_the_envelope_stage_1_would_read() -> None:
    event = _event(
        raw={"a": 1},
        event=EventInfo(module="system", outcome="failure"),
        logsource=LogSource(product="linux", service="sshd"),
    )
    envelope = Envelope.of(event)
    assert envelope == decode(written_by_ingest(event))
    assert (envelope.module, envelope.logsource.service) == ("system", "sshd")


def test_text_beyond_ascii_in_raw_is_read_when_it_is_utf8() -> None:
    """A record that is not ASCII throughout has its raw UTF-8 checked, and valid UTF-8 passes."""
    data = _with(raw={"note": "café ✓"}, message="é")
    assert not data.isascii()
    envelope = decode(data)
    assert FieldReader(envelope).get("note") == "café ✓"
    assert FieldReader(envelope).get("message") == "é"


def test_a_subscript_reads_null_and_missing_alike_and_get_and_has_tell_them_apart() -> None:
    """`reader[name]` is None for JSON null and for a missing field; `get`'s default and `has` are for missing only."""
    reader = FieldReader(Envelope.of(_event(raw={"null": None, "zero": 0})))
    assert (reader["null"], reader["gone"], reader["zero"]) == (None, None, 0)
    assert (reader.get("null", "d"), reader.get("gone", "d"), reader.get("zero", "d")) == (None, "d", 0)
    assert (reader.has("null"), reader.has("gone"), reader.has("zero")) == (True, False, True)
    fresh = FieldReader(Envelope.of(_event(raw={"null": None})))
    assert (fresh.has("null"), fresh.get("gone", "d"), fresh.has("message")) == (True, "d", False)
