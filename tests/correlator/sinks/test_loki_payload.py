"""Golden tests of the Loki payload builders: stream labels, the JSON line, truncation, batching and order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import cramjam
import orjson
import pytest

from services.correlator.sinks.loki import (
    TRUNCATED,
    build_loki_pushes,
    highest_level,
    loki_labels,
    loki_line,
    push_url,
    timestamp_ns,
)
from services.correlator.sinks.record import decode_enriched, record_of
from services.correlator.sinks.settings import SinksSettings
from services.shared.alert import RuleRef
from services.shared.event import EnrichedEvent
from services.shared.loki.codec import encode_protobuf, push_request
from tests.loki.loki_proto import loki_push_pb2

T0 = datetime(2026, 11, 26, 6, 0, 0, 123456, tzinfo=UTC)
HIGH = RuleRef(id="r-high", title="High rule", level="high")
LOW = RuleRef(id="r-low", title="Low rule", level="low")


def _event(**changes: Any) -> EnrichedEvent:
    fields: dict[str, Any] = {
        "id": "evt-1",
        "time": T0,
        "ingested": T0 + timedelta(seconds=1),
        "event": {"module": "system", "dataset": "system.auth", "action": "ssh_login", "outcome": "failure"},
        "logsource": {"product": "linux", "service": "sshd"},
        "message": "Failed password for root from 203.0.113.7",
        "user": {"name": "root"},
        "source": {"ip": "203.0.113.7"},
        "labels": {"env": "prod", "cluster": "eu-1", "tenant": "acme"},
        "raw": {"line": "Failed password for root from 203.0.113.7"},
        "matches": [LOW, HIGH],
    }
    fields.update(changes)
    return EnrichedEvent(**fields)


def test_labels_are_the_documented_bounded_set() -> None:
    """Labels: module, dataset, highest level, logsource product/service and the configured event labels; no ids."""
    assert loki_labels(record_of(_event()).fields, ["env", "cluster"]) == loki_labels(_event(), ["env", "cluster"])
    assert loki_labels(_event(), ["env", "cluster"]) == {
        "module": "system",
        "dataset": "system.auth",
        "level": "high",
        "product": "linux",
        "service": "sshd",
        "env": "prod",
        "cluster": "eu-1",
    }


def test_absent_or_blank_values_are_no_label_and_long_ones_are_capped() -> None:
    """Missing dataset/service/env are left out (Loki ignores empty labels); a 500-character env is cut to 64."""
    event = _event(event={"module": "generic"}, logsource={"product": "generic"}, labels={"env": "x" * 500}, matches=[])
    assert loki_labels(record_of(event).fields, ["env", "cluster"]) == loki_labels(event, ["env", "cluster"])
    assert loki_labels(event, ["env", "cluster"]) == {
        "module": "generic",
        "level": "none",
        "product": "generic",
        "env": "x" * 64,
    }


@pytest.mark.parametrize(
    ("levels", "expected"),
    [([], "none"), (["low"], "low"), (["medium", "critical", "high"], "critical"), (["bogus"], "unknown")],
)
def test_level_is_the_most_severe_match(levels: list[str], expected: str) -> None:
    """The `level` label is the highest Sigma level among the matched rules, "none" without a match."""
    matches = [RuleRef(id=f"r{i}", title="t", level=level) for i, level in enumerate(levels)]
    assert highest_level(_event(matches=matches)) == expected
    assert highest_level(record_of(_event(matches=matches)).fields) == expected


def test_labels_of_a_record_without_logsource_or_event_default_as_the_envelope_does() -> None:
    """A record without `event` or `logsource` is labelled module="generic", product="generic", as Event reads it."""
    record = decode_enriched(b'{"id":"e","time":"2026-11-26T06:00:00Z","ingested":"2026-11-26T06:00:00Z"}')
    assert loki_labels(record.fields, ["env"]) == {"module": "generic", "level": "none", "product": "generic"}


def test_line_is_the_enriched_event_json_with_id_on_top() -> None:
    """The line is the EnrichedEvent as JSON (nulls left out): `| json | id=...` finds it and it parses back."""
    event = _event()
    line = loki_line(record_of(event), 256 * 1024)
    document = orjson.loads(line)
    assert document["id"] == "evt-1"
    assert document["matches"][1]["id"] == "r-high"
    assert "destination" not in document
    assert EnrichedEvent.model_validate_json(line) == event


def test_line_is_the_consumed_record_as_it_is() -> None:
    """A line within the cap is the record's text unchanged, `null` fields of an older record included."""
    value = _event().model_dump_json().encode()  # every field, nulls too: what ingest wrote before it left them out
    assert b'"destination":null' in value
    assert loki_line(decode_enriched(value), 256 * 1024) == value.decode()


def test_oversize_line_is_cut_in_raw_first_and_stays_json() -> None:
    """A 300 KB raw payload is shortened and marked; the line fits 256 KB, is JSON, and keeps id and matches."""
    event = _event(raw={"blob": "A" * 300_000})
    line = loki_line(record_of(event), 256 * 1024)
    assert len(line.encode()) <= 256 * 1024
    document = orjson.loads(line)
    assert document["id"] == "evt-1" and document["matches"]
    assert document["raw"].endswith(TRUNCATED) and document["raw"].startswith('{"blob":"AAAA')
    assert document["truncated"]["original_bytes"] > 300_000
    assert document["message"] == event.message


def test_an_oversize_message_is_cut_when_raw_is_not_enough() -> None:
    """With a huge message and a small raw, the message is the part that is shortened."""
    line = loki_line(record_of(_event(message="m" * 10_000, raw=None)), 4096)
    document = orjson.loads(line)
    assert len(line.encode()) <= 4096
    assert document["message"].endswith(TRUNCATED)


def test_escaping_heavy_content_still_fits() -> None:
    """Control characters (6 bytes each once escaped) do not push the line over the cap."""
    line = loki_line(record_of(_event(raw="\x01" * 50_000)), 8192)
    assert len(line.encode()) <= 8192
    assert orjson.loads(line)["raw"].endswith(TRUNCATED)


def test_a_line_that_cannot_stay_json_is_cut_hard_and_marked() -> None:
    """When even the fields other than raw and message are over the cap, the line itself is cut and marked."""
    line = loki_line(record_of(_event(labels={f"k{i}": "v" * 100 for i in range(100)})), 2048)
    assert len(line.encode()) <= 2048
    assert line.endswith(TRUNCATED) and line.startswith('{"id":"evt-1"')


def _settings(**changes: Any) -> SinksSettings:
    return SinksSettings(loki_url="http://127.0.0.1:3100", **changes)


def test_a_push_groups_streams_and_orders_entries_by_time() -> None:
    """Events given out of order come out grouped per stream, oldest first, with event_id/rule_ids metadata."""
    late = _event(id="late", time=T0 + timedelta(seconds=5))
    early = _event(id="early", time=T0)
    other = _event(id="other", time=T0 + timedelta(seconds=1), matches=[])
    [push] = build_loki_pushes([record_of(e) for e in (late, other, early)], _settings())
    assert [(s.labels["level"], [orjson.loads(e.line)["id"] for e in s.entries]) for s in push] == [
        ("high", ["early", "late"]),
        ("none", ["other"]),
    ]
    assert push[0].entries[0].timestamp_ns == timestamp_ns(T0) == 1795672800123456000
    assert push[0].entries[0].metadata == {"event_id": "early", "rule_ids": "r-low,r-high"}
    assert push[1].entries[0].metadata == {"event_id": "other"}


def test_structured_metadata_can_be_turned_off() -> None:
    """With loki_structured_metadata off (Loki 2 schemas), entries carry no metadata."""
    [push] = build_loki_pushes([record_of(_event())], _settings(loki_structured_metadata=False))
    assert push[0].entries[0].metadata == {}


@pytest.mark.parametrize("cap", [4096, 16_384, 65_536])
@pytest.mark.parametrize("metadata", [True, False])
def test_pushes_are_cut_by_size(cap: int, metadata: bool) -> None:
    """Each push's PushRequest, framing and metadata included, stays within loki_batch_max_bytes; order is kept."""
    events = [
        _event(id=f"e{i:03}", time=T0 + timedelta(seconds=i), raw="x" * (i * 37 % 900), labels={"env": f"s{i % 3}"})
        for i in range(200)
    ]
    settings = _settings(loki_batch_max_bytes=cap, loki_structured_metadata=metadata, loki_event_labels=["env"])
    pushes = build_loki_pushes([record_of(e) for e in events], settings)
    assert len(pushes) > 1
    for push in pushes:
        assert push_request(push).ByteSize() <= cap
    # Pushes follow each other in time; inside one, entries are grouped by stream.
    order = [sorted(orjson.loads(e.line)["id"] for s in push for e in s.entries) for push in pushes]
    assert [event_id for push in order for event_id in push] == [f"e{i:03}" for i in range(200)]


def test_push_url_accepts_a_base_or_the_full_path() -> None:
    """SIEM_LOKI_URL may be Loki's base URL or its push endpoint."""
    assert push_url("http://loki:3100/") == "http://loki:3100/loki/api/v1/push"
    assert push_url("http://gw/loki/api/v1/push") == "http://gw/loki/api/v1/push"


def test_our_protobuf_push_decodes_with_lokis_own_proto() -> None:
    """What the sink sends parses with Loki's push.proto into the same streams, entries, times and metadata."""
    [push] = build_loki_pushes([record_of(_event()), record_of(_event(id="evt-2", matches=[]))], _settings())
    request = loki_push_pb2().PushRequest()
    request.ParseFromString(bytes(cramjam.snappy.decompress_raw(encode_protobuf(push))))
    decoded = [
        (
            s.labels,
            [
                (
                    e.timestamp.seconds * 10**9 + e.timestamp.nanos,
                    e.line,
                    {p.name: p.value for p in e.structuredMetadata},
                )
                for e in s.entries
            ],
        )
        for s in request.streams
    ]
    assert decoded == [
        (
            '{cluster="eu-1", dataset="system.auth", env="prod", level="high", module="system", product="linux", '
            'service="sshd"}',
            [
                (
                    timestamp_ns(T0),
                    loki_line(record_of(_event()), 256 * 1024),
                    {"event_id": "evt-1", "rule_ids": "r-low,r-high"},
                )
            ],
        ),
        (
            '{cluster="eu-1", dataset="system.auth", env="prod", level="none", module="system", product="linux", '
            'service="sshd"}',
            [
                (
                    timestamp_ns(T0),
                    loki_line(record_of(_event(id="evt-2", matches=[])), 256 * 1024),
                    {"event_id": "evt-2"},
                )
            ],
        ),
    ]
