"""Kubernetes audit webhook backend: an `audit.k8s.io` EventList (batch mode) or a single Event.

The API server's webhook posts `EventList`s; files from its log backend hold one Event per line,
so NDJSON is read too (the same parser serves replay). Every event keeps the audit object whole
in `raw`, so SigmaHQ's `objectRef.resource`-style rule fields read it directly.

The id is the `auditID` and `stage` plus a digest of the event: a retried batch carries the same
events and so the same ids, while a client choosing its own `Audit-ID` header (the API server
honours it) cannot make its request share an id with someone else's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson

from services.ingest.ids import content_id
from services.ingest.sources.parsed import Document, Parsed, Rejected, describe, json_documents
from services.ingest.sources.times import text_time
from services.shared.event import Event, Outcome

_API_GROUP = "audit.k8s.io/"
_STAGES = frozenset({"RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"})
_TIME_KEYS = ("requestReceivedTimestamp", "stageTimestamp", "timestamp")


class K8sAuditSource:
    name = "k8s_audit"

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Parsed:
        return parse_audit(body, datetime.now(UTC))


def parse_audit(body: bytes, received: datetime) -> Parsed:
    parsed = Parsed()
    for position, item, original in _items(body, parsed):
        where = f"item {position}: " if position else ""
        try:
            parsed.accept(to_event(item, received), original)
        except (ValueError, TypeError) as exc:
            parsed.rejected.append(Rejected("invalid_audit_event", where + describe(exc), original, position))
    if not parsed.ids and not parsed.rejected:
        parsed.rejected.append(Rejected("empty_batch", "the body holds no audit events", body))
    return parsed


def _items(body: bytes, parsed: Parsed) -> Iterator[Document]:
    """Each audit Event with its position and original bytes, from one document or NDJSON lines."""
    documents = json_documents(body, parsed)
    for position, document, original in documents:
        if isinstance(document, dict) and document.get("kind") == "EventList":
            items = document.get("items")
            if not isinstance(items, list):
                parsed.rejected.append(Rejected("invalid_audit_event", "EventList.items must be a list", original))
                continue
            # A position inside a list counts items from 1, so replies can point at the bad one.
            yield from ((index, item, orjson.dumps(item)) for index, item in enumerate(items, start=1))
        else:
            yield position, document, original


def to_event(item: Any, received: datetime) -> Event:
    """One audit.k8s.io Event in the envelope; raises ValueError naming what is missing or wrong."""
    if not isinstance(item, dict):
        raise ValueError(f"expected an audit Event object, got {type(item).__name__}")
    if item.get("kind", "Event") != "Event":
        raise ValueError(f"kind {str(item.get('kind'))[:32]!r} is not an audit Event")
    api_version = item.get("apiVersion")
    if api_version is not None and not str(api_version).startswith(_API_GROUP):
        raise ValueError(f"apiVersion {str(api_version)[:64]!r} is not {_API_GROUP}*")
    audit_id, stage, verb = item.get("auditID"), item.get("stage"), item.get("verb")
    if not isinstance(audit_id, str) or not audit_id:
        raise ValueError("auditID is missing")
    if stage not in _STAGES:
        raise ValueError(f"stage {str(stage)[:32]!r} is not one of {sorted(_STAGES)}")
    if not isinstance(verb, str):
        raise ValueError("verb is missing")
    user, impersonated = _dict(item.get("user")), _dict(item.get("impersonatedUser"))
    status, target = _dict(item.get("responseStatus")), _dict(item.get("objectRef"))
    code = status.get("code") if isinstance(status.get("code"), int) else None
    document: dict[str, Any] = {
        "id": content_id(f"{audit_id[:64]}.{stage}", orjson.dumps(item, option=orjson.OPT_SORT_KEYS)),
        "time": _event_time(item) or received,
        "ingested": received,
        "event": {
            "module": "kubernetes",
            "dataset": "kubernetes.audit",
            "action": verb,
            "outcome": _outcome(code, item),
            "category": ["api"],
        },
        # SigmaHQ files the audit log under category `application`: without it most of its rules never apply.
        "logsource": {"product": "kubernetes", "service": "audit", "category": "application"},
        "user": _user(user) | ({"effective": _user(impersonated)} if impersonated else {}),
        "orchestrator": _orchestrator(target),
        "raw": item,
    }
    if ip := _first_ip(item.get("sourceIPs")):
        document["source"] = {"ip": ip}
    if isinstance(item.get("requestURI"), str):
        uri = urlsplit(item["requestURI"])
        document["url"] = {"original": item["requestURI"], "path": uri.path} | (
            {"query": uri.query} if uri.query else {}
        )
    if code is not None:
        document["http"] = {"response": {"status_code": code}}
    return Event.model_validate(document)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _user(user: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if isinstance(user.get("username"), str):
        found["name"] = user["username"]
    if isinstance(user.get("uid"), str):
        found["id"] = user["uid"]
    if isinstance(user.get("groups"), list):
        found["group"] = {"name": [g for g in user["groups"] if isinstance(g, str)]}
    return found


def _orchestrator(target: dict[str, Any]) -> dict[str, Any]:
    """ECS `orchestrator.*`: the object acted on (`objectRef`); subresource and API group kept beside it."""
    found: dict[str, Any] = {"type": "kubernetes"}
    resource = {
        ecs: target[name]
        for ecs, name in (
            ("type", "resource"),
            ("name", "name"),
            ("subresource", "subresource"),
            ("api_group", "apiGroup"),
        )
        if isinstance(target.get(name), str) and target[name]
    }
    if resource:
        found["resource"] = resource
    if isinstance(target.get("namespace"), str):
        found["namespace"] = target["namespace"]
    if isinstance(target.get("apiVersion"), str):
        found["api_version"] = target["apiVersion"]
    return found


def _outcome(code: int | None, item: dict[str, Any]) -> Outcome:
    decision = _dict(item.get("annotations")).get("authorization.k8s.io/decision")
    if decision == "forbid" or (code is not None and code >= 400):
        return "failure"
    if code is not None:
        return "success"
    return "unknown"


def _event_time(item: dict[str, Any]) -> datetime | None:
    for key in (*_TIME_KEYS, None):
        value = item.get(key) if key else _dict(item.get("metadata")).get("creationTimestamp")
        if isinstance(value, str):
            return text_time(value, key or "metadata.creationTimestamp")
    return None


def _first_ip(addresses: Any) -> str | None:
    for address in addresses if isinstance(addresses, list) else []:
        try:
            return str(ipaddress.ip_address(address))
        except (TypeError, ValueError):
            continue
    return None
