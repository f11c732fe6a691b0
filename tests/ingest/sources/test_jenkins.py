"""Jenkins Notification plugin payloads (corpus) and our audit form become envelopes with exact fields."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from services.ingest.sources.jenkins import parse_jenkins
from services.shared.envelope import Envelope, FieldReader
from services.shared.event import Event

RECEIVED = datetime(2025, 6, 1, tzinfo=UTC)


def _payload(corpus: Path, name: str) -> bytes:
    """The corpus wraps each request as {"headers": {}, "body": <payload>}; the plugin posts the body."""
    return orjson.dumps(orjson.loads((corpus / "jenkins/gitter-services" / name).read_bytes())["body"])


def _only(body: bytes) -> Event:
    parsed = parse_jenkins(body, RECEIVED)
    assert parsed.rejected == []
    (event,) = parsed.read_back()
    return event


def test_every_corpus_payload_parses(corpus: Path) -> None:
    """Every Notification plugin payload in the corpus becomes one jenkins/build event."""
    names = sorted(p.name for p in (corpus / "jenkins/gitter-services").glob("*.json"))
    assert len(names) == 6
    for name in names:
        event = _only(_payload(corpus, name))
        assert (event.logsource.product, event.event.module, event.event.dataset) == (
            "jenkins",
            "jenkins",
            "jenkins.build",
        )


def test_started_build_with_scm_and_pull_request_parameters(corpus: Path) -> None:
    """ghprb.json: a STARTED build, its URL, and the commit and branch readable by rule field names."""
    event = _only(_payload(corpus, "ghprb.json"))
    assert event.normalised() == {
        "id": event.id,
        "time": "2025-06-01T00:00:00Z",  # the payload carries no timestamp: the receive time stands in
        "ingested": "2025-06-01T00:00:00Z",
        "event.module": "jenkins",
        "event.dataset": "jenkins.build",
        "event.action": "build_started",
        "event.outcome": "unknown",
        "event.category": ["process"],
        "logsource.product": "jenkins",
        "logsource.service": "build",
        "url.original": "http://example.com/job/webhooks-handler/123/",
        "url.path": "job/webhooks-handler/123/",
        "labels": {},
    }
    reader = FieldReader(Envelope.of(event))
    assert reader.get("build.scm.commit") == "b7efe268c0a8cf53800ff6ea871b7dbe405f1401"
    assert reader.get("build.scm.branch") == "pr-branch"
    assert reader.get("build.parameters.ghprbPullId") == "456"


@pytest.mark.parametrize(
    ("name", "action", "outcome"),
    [
        ("success_one_point_seven.json", "build_finalized", "success"),
        ("failure.json", "build_finished", "failure"),
        ("completed.json", "build_completed", "success"),
    ],
)
def test_phase_and_status(corpus: Path, name: str, action: str, outcome: str) -> None:
    """The phase is the action and the build status the outcome (FAILURE is a failure)."""
    event = _only(_payload(corpus, name))
    assert (event.event.action, event.event.outcome) == (action, outcome)


def test_phases_of_one_build_have_distinct_ids_and_retries_keep_them(corpus: Path) -> None:
    """STARTED and COMPLETED of build #6 differ; the plugin's retry of the same phase keeps the id."""
    started, completed = _only(_payload(corpus, "started.json")), _only(_payload(corpus, "completed.json"))
    assert started.id != completed.id
    assert _only(_payload(corpus, "started.json")).id == started.id


def test_plugin_timestamp_text_is_milliseconds() -> None:
    """Current plugins write `…:05.7+00:00` meaning 7 ms (SimpleDateFormat `S`), not 0.7 s."""
    body = {
        "name": "app",
        "url": "job/app/",
        "build": {"number": 1, "phase": "STARTED", "timestamp": "2024-05-01T10:00:05.7+00:00"},
    }
    assert _only(orjson.dumps(body)).time == datetime(2024, 5, 1, 10, 0, 5, 7000, tzinfo=UTC)


def test_audit_login_failure() -> None:
    """The audit form our Groovy hook posts: a failed login names the user and source address."""
    audit: dict[str, Any] = {
        "kind": "audit",
        "id": "4b1e6c3a-0000-4000-8000-000000000001",
        "action": "login_failure",
        "user": "alice",
        "source_ip": "203.0.113.9",
        "target": "/j_spring_security_check",
        "time": 1717236000000,
        "jenkins_url": "https://ci.example.com/",
    }
    event = _only(orjson.dumps(audit))
    assert (event.logsource.product, event.logsource.service) == ("jenkins", "audit")
    assert (event.event.action, event.event.outcome, event.event.category) == (
        "login_failure",
        "failure",
        ["authentication"],
    )
    assert event.user is not None and event.user.name == "alice"
    assert event.source is not None and event.source.ip == "203.0.113.9"
    assert event.time == datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
    assert _only(orjson.dumps(audit)).id == event.id


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        (b"", "empty_body"),
        (b"{not json", "malformed_json"),
        (b'{"name": "x", "build": {"phase": "EXPLODED"}}', "invalid_jenkins_event"),
        (b'{"kind": "audit", "action": "sudo"}', "invalid_jenkins_event"),
        (b'{"kind": "audit", "action": "login", "source_ip": "nowhere"}', "invalid_jenkins_event"),
        (b"[1, 2]", "invalid_jenkins_event"),
    ],
)
def test_bad_bodies_are_rejected(body: bytes, error_type: str) -> None:
    """Bodies that are not a notification or an audit object are rejected with a bounded error type."""
    parsed = parse_jenkins(body, RECEIVED)
    assert parsed.ids == []
    assert [r.error_type for r in parsed.rejected] == [error_type]
