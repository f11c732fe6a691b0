"""The envelope ingest puts on `siem.events` reads back as the event every source made, and pydantic writes it alike."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest

from services.ingest.envelope import envelope
from services.ingest.settings import IngestSettings
from services.ingest.sources import build_sources
from services.shared.envelope import Envelope, decode
from services.shared.event import Event

_LOKI_PUSH = {
    "streams": [
        {
            "stream": {"job": "varlogs", "host": "web-1"},
            "values": [
                ["1700000000123456789", "Nov 14 22:13:20 web-1 sshd[42]: Failed password for root from 203.0.113.7"],
                ["1700000000123456790", '{"level": "warn", "message": "slow", "user": {"name": "ann", "id": 7}}'],
                ["1700000000123456791", "plain text, no format at all"],
            ],
        }
    ]
}


def _bodies(corpus: Path) -> dict[str, bytes]:
    """A real body for every source: corpus payloads, and forms the corpus has none of."""
    linux = corpus / "linux"
    generic_items = [
        {"id": "g-1", "message": "hello", "time": 1700000000123, "labels": {"team": "a"}},
        {"user": {"name": "bob", "id": 42}, "source": {"ip": "192.0.2.1", "port": 22}, "nested": {"list": [1, 2.5]}},
        {"logsource": {"product": "linux", "service": "sshd"}, "event": {"action": "x"}, "none": None, "u": "é☃"},
    ]
    return {
        "generic": b"\n".join(orjson.dumps(item) for item in generic_items),
        "k8s_audit": (corpus / "k8s-audit/audit2rbac/demo.log").read_bytes(),
        "jenkins": orjson.dumps(orjson.loads((corpus / "jenkins/gitter-services/failure.json").read_bytes())["body"]),
        "syslog": (linux / "auth/beats/test.log").read_bytes() + (linux / "auditd/beats/useradd.log").read_bytes(),
        "loki": orjson.dumps(_LOKI_PUSH),
    }


@pytest.mark.parametrize("source", ["generic", "k8s_audit", "jenkins", "syslog", "loki"])
def test_envelopes_read_back_as_the_events_pydantic_writes_alike(source: str, corpus: Path) -> None:
    """For every source, each envelope reads back as an `Event` with its id, which pydantic writes to the same JSON."""
    parser = build_sources(IngestSettings())[source]
    parsed = parser.parse(_bodies(corpus)[source], {"Content-Type": "application/json"})
    assert parsed.ids, parsed.rejected
    for event_id, written, event in zip(parsed.ids, parsed.envelopes, parsed.read_back(), strict=True):
        assert event.id == event_id
        assert orjson.loads(envelope(event)) == orjson.loads(written)
        assert decode(written) == Envelope.of(event)


def test_envelope_leaves_out_null_fields_and_keeps_raw_as_is() -> None:
    """Null envelope fields are left out (they read back as defaults); nulls inside `raw` stay."""
    now = datetime(2024, 5, 1, tzinfo=UTC)
    event = Event(id="e-1", time=now, ingested=now, raw={"a": None, "b": [1, {"c": None}]})
    document = orjson.loads(envelope(event))
    assert "message" not in document and "user" not in document and "category" not in document["logsource"]
    assert document["raw"] == {"a": None, "b": [1, {"c": None}]}
    assert list(document)[-1] == "raw"


def test_posted_json_is_spliced_in_as_it_came() -> None:
    """The generic source keeps each posted line's bytes as `raw`, unchanged, whichever path wrote the envelope."""
    lines = [b'{ "id": "g-9",  "message": "spaced out" }', b'{"id": "g-10", "user": {"id": 7} }']  # the 2nd: pydantic's
    parsed = build_sources(IngestSettings())["generic"].parse(b"\n".join(lines), {})
    assert parsed.ids == ["g-9", "g-10"]
    for line, written in zip(lines, parsed.envelopes, strict=True):
        assert written.endswith(b',"raw":' + line + b"}")
    assert orjson.loads(parsed.envelopes[1])["user"] == {"id": "7"}


def test_envelope_is_what_pydantic_would_write() -> None:
    """Field for field, the envelope decodes to pydantic's own `model_dump_json(exclude_none=True)` of the event."""
    berlin = datetime(2024, 5, 1, 12, 30, 0, 120000, tzinfo=ZoneInfo("Europe/Berlin"))
    events = [
        Event(
            id="e-3",
            time=berlin,
            ingested=datetime(2024, 5, 1, tzinfo=UTC),
            event={"action": "x", "outcome": "failure", "category": ["a"], "extra": {"n": None}, "gone": None},
            user={"name": "ann", "id": 7, "roles": ["r"], "effective": {"name": "root"}},
            http={"request": {"method": "GET"}, "response": {"status_code": 500}},
            orchestrator={"type": "kubernetes", "resource": {"name": "p"}},
            labels={"a": "b"},
            raw={"when": berlin, "naive": datetime(2024, 5, 1), "float": 1e16, "tiny": 5e-324, "list": [None, True]},
        ),
        Event(id="e-4", time=berlin, ingested=berlin, raw={1: "int key"}),
        Event(id="e-5", time=berlin, ingested=berlin, raw={"big": 2**70}),
        Event(id="e-6", time=berlin, ingested=berlin, raw="just text"),
    ]
    for event in events:
        assert orjson.loads(envelope(event)) == orjson.loads(event.model_dump_json(exclude_none=True))
