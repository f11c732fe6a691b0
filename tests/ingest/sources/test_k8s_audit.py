"""Kubernetes audit events from the corpus (Falco trace files, audit2rbac) become envelopes with exact ECS fields."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from services.ingest.sources.k8s_audit import parse_audit
from services.shared.envelope import Envelope, FieldReader
from services.shared.event import Event

RECEIVED = datetime(2025, 6, 1, tzinfo=UTC)
FALCO = "k8s-audit/falco-trace-files"


def _only(parsed: Any) -> Event:
    assert parsed.rejected == []
    (event,) = parsed.read_back()
    assert isinstance(event, Event)
    return event


def test_every_corpus_file_parses(corpus: Path) -> None:
    """Every Falco trace file and audit2rbac's demo.log parses with no rejection: one event per audit Event."""
    files = sorted((corpus / FALCO).glob("*.json")) + [corpus / "k8s-audit/audit2rbac/demo.log"]
    assert len(files) == 47
    total = 0
    for path in files:
        body = path.read_bytes()
        parsed = parse_audit(body, RECEIVED)
        assert parsed.rejected == [], path.name
        assert len(parsed.ids) == len([line for line in body.split(b"\n") if line.strip()]), path.name
        assert all(e.logsource.product == "kubernetes" and e.logsource.service == "audit" for e in parsed.read_back())
        total += len(parsed.ids)
    assert total == 88


def test_exec_into_pod_exact_fields(corpus: Path) -> None:
    """Falco's exec_pod.json: user, groups, source ip, verb, the pods/exec object, 101 as a success."""
    event = _only(parse_audit((corpus / FALCO / "exec_pod.json").read_bytes(), RECEIVED))
    flat = event.normalised()
    assert flat == {
        "id": flat["id"],
        "time": "2018-10-26T13:38:34.867116Z",
        "ingested": "2025-06-01T00:00:00Z",
        "event.module": "kubernetes",
        "event.dataset": "kubernetes.audit",
        "event.action": "create",
        "event.outcome": "success",
        "event.category": ["api"],
        "logsource.product": "kubernetes",
        "logsource.service": "audit",
        "logsource.category": "application",
        "user.name": "minikube-user",
        "user.group.name": ["system:masters", "system:authenticated"],
        "source.ip": "192.168.99.1",
        "url.original": "/api/v1/namespaces/default/pods/nginx-deployment-7998647bdf-phvq7/exec?command=bash"
        "&container=nginx1&container=nginx1&stdin=true&stdout=true&tty=true",
        "url.path": "/api/v1/namespaces/default/pods/nginx-deployment-7998647bdf-phvq7/exec",
        "url.query": "command=bash&container=nginx1&container=nginx1&stdin=true&stdout=true&tty=true",
        "http.response.status_code": 101,
        "orchestrator.type": "kubernetes",
        "orchestrator.namespace": "default",
        "orchestrator.api_version": "v1",
        "orchestrator.resource.type": "pods",
        "orchestrator.resource.name": "nginx-deployment-7998647bdf-phvq7",
        "orchestrator.resource.subresource": "exec",
        "labels": {},
    }
    assert flat["id"].startswith("ca1ed9f4-7bf4-4c85-81a8-1b11253d1ba6.ResponseStarted-")
    reader = FieldReader(Envelope.of(event))  # SigmaHQ's field names read the audit object itself
    assert (reader.get("objectRef.resource"), reader.get("objectRef.subresource"), reader.get("verb")) == (
        "pods",
        "exec",
        "create",
    )


def test_impersonated_forbidden_request(corpus: Path) -> None:
    """audit2rbac: system:admin impersonating bob is refused (403): user.effective is bob, outcome failure."""
    line = (corpus / "k8s-audit/audit2rbac/demo.log").read_bytes().split(b"\n")[0]
    event = _only(parse_audit(line, RECEIVED))
    assert event.user is not None and event.user.name == "system:admin"
    assert event.user.model_extra is not None and event.user.model_extra["effective"] == {
        "name": "bob",
        "group": {"name": ["system:authenticated"]},
    }
    assert (event.event.action, event.event.outcome) == ("list", "failure")
    assert event.http is not None and event.http.response is not None and event.http.response.status_code == 403
    assert event.source is not None and event.source.ip == "::1"
    assert event.time == datetime(2017, 9, 11, 19, 55, 5, tzinfo=UTC)


def test_event_list_batch_and_single_event_give_the_same_events(corpus: Path) -> None:
    """An EventList (the webhook's batch form) gives the same events, ids included, as posting each Event."""
    items = [orjson.loads(line) for line in (corpus / "k8s-audit/audit2rbac/demo.log").read_bytes().splitlines()]
    batch = {"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}, "items": items}
    from_batch = parse_audit(orjson.dumps(batch), RECEIVED)
    one_by_one = [_only(parse_audit(orjson.dumps(item), RECEIVED)) for item in items]
    assert from_batch.ids == [e.id for e in one_by_one]
    assert len(set(from_batch.ids)) == 37


def test_retry_keeps_ids_and_a_forged_audit_id_does_not_collide(corpus: Path) -> None:
    """The same event posted again keeps its id; another request reusing its auditID and stage gets its own."""
    item = orjson.loads((corpus / FALCO / "create_secret.json").read_bytes())
    first = _only(parse_audit(orjson.dumps(item), RECEIVED))
    again = _only(parse_audit(orjson.dumps(item), datetime(2030, 1, 1, tzinfo=UTC)))
    forged = _only(parse_audit(orjson.dumps({**item, "user": {"username": "mallory"}}), RECEIVED))
    assert first.id == again.id
    assert forged.id != first.id and forged.id.split("-")[0] == first.id.split("-")[0]


def test_bad_items_are_rejected_and_the_rest_accepted(corpus: Path) -> None:
    """In one EventList, items that are not audit Events are rejected with their position; the others pass."""
    good = orjson.loads((corpus / FALCO / "create_secret.json").read_bytes())
    items = [good, {"kind": "Pod"}, {**good, "stage": "Sometime"}, {**good, "auditID": ""}, 7]
    parsed = parse_audit(orjson.dumps({"kind": "EventList", "items": items}), RECEIVED)
    assert len(parsed.ids) == 1
    assert [(r.line, r.error_type) for r in parsed.rejected] == [(i, "invalid_audit_event") for i in (2, 3, 4, 5)]
    assert "stage" in parsed.rejected[1].reason
    assert parsed.rejected[3].original == b"7"


def test_not_audit_json_is_rejected_whole() -> None:
    """Malformed JSON, an empty body and an EventList without items are rejected, never raised."""
    assert [r.error_type for r in parse_audit(b"{nope", RECEIVED).rejected] == ["malformed_json"]
    assert [r.error_type for r in parse_audit(b"", RECEIVED).rejected] == ["empty_body"]
    assert [r.error_type for r in parse_audit(b'{"kind": "EventList", "items": []}', RECEIVED).rejected] == [
        "empty_batch"
    ]
