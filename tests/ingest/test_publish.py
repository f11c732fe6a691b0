"""The envelope ingest puts on `siem.events` reads back as the very event every source made."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from services.ingest.publish import envelope
from services.ingest.settings import IngestSettings
from services.ingest.sources import build_sources
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
def test_envelope_round_trips_through_event(source: str, corpus: Path) -> None:
    """For every source, Event.model_validate_json of the published bytes equals the event the source made."""
    parser = build_sources(IngestSettings())[source]
    parsed = parser.parse(_bodies(corpus)[source], {"Content-Type": "application/json"})
    assert parsed.events, parsed.rejected
    for event in parsed.events:
        assert Event.model_validate_json(envelope(event)) == event


def test_envelope_leaves_out_null_fields_and_keeps_raw_as_is() -> None:
    """Null envelope fields are left out (they read back as defaults); nulls inside `raw` stay."""
    now = datetime(2024, 5, 1, tzinfo=UTC)
    event = Event(id="e-1", time=now, ingested=now, raw={"a": None, "b": [1, {"c": None}]})
    document = orjson.loads(envelope(event))
    assert "message" not in document and "user" not in document and "category" not in document["logsource"]
    assert document["raw"] == {"a": None, "b": [1, {"c": None}]}
    assert list(document)[-1] == "raw"


def test_raw_that_is_not_plain_json_is_written_by_pydantic() -> None:
    """A payload holding a datetime is written the way pydantic writes it (`Z`), and still round-trips."""
    now = datetime(2024, 5, 1, tzinfo=UTC)
    event = Event(id="e-2", time=now, ingested=now, raw={"when": now, 1: "int key"})
    assert orjson.loads(envelope(event))["raw"] == {"when": "2024-05-01T00:00:00Z", "1": "int key"}
    assert orjson.loads(envelope(event)) == orjson.loads(event.model_dump_json(exclude_none=True))
