"""Loki push (`POST /loki/api/v1/push`): protobuf+snappy or JSON, so Grafana Alloy, Promtail and
Fluent Bit's Loki output can forward host and pod logs to ingest unchanged.

Each log line becomes one event carrying its stream's labels. A line in a syslog, auth.log,
audit.log or dpkg.log format is parsed exactly as the syslog listener would; any other line is
kept as a message, except a JSON object (an application's structured log line), which is read
like generic JSON so its ECS fields count. The agent's timestamp is the event time (the one Loki itself would store;
the line's own, often zone-less, time stays in `raw`). The id is a digest of labels, timestamp
and line, the identity Loki uses to drop a duplicate entry, so an agent's retry makes no new event.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import orjson

from services.ingest.ids import content_id
from services.ingest.sources.generic import to_event as generic_event
from services.ingest.sources.parsed import Parsed, Rejected, describe
from services.ingest.syslog import LineContext, parse_journal, parse_line
from services.shared.errors import ParseError
from services.shared.event import Event
from services.shared.loki.codec import Entry, Stream, decode_push, format_labels

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST_NS = 253402300799 * 10**9  # 9999-12-31T23:59:59Z
_HOST_LABELS = ("host", "hostname", "node_name", "nodename", "instance")
_TENANT_HEADER = "X-Scope-OrgID"
_MAX_TENANT = 150  # Loki's own limit on a tenant id


class LokiSource:
    name = "loki"

    def __init__(self, zone: tzinfo = UTC, max_bytes: int = 8 * 1024 * 1024) -> None:
        self.zone = zone
        self.max_bytes = max_bytes

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Parsed:
        return parse_push(body, headers, datetime.now(UTC), self.zone, self.max_bytes)


def parse_push(body: bytes, headers: Mapping[str, str], received: datetime, zone: tzinfo, max_bytes: int) -> Parsed:
    parsed = Parsed()
    try:
        streams = decode_push(body, headers.get("Content-Type", ""), headers.get("Content-Encoding", ""), max_bytes)
    except ParseError as error:
        parsed.rejected.append(Rejected(error.error_type, error.reason, body))
        return parsed
    tenant = headers.get(_TENANT_HEADER, "")[:_MAX_TENANT]
    for stream in streams:
        labels = dict(stream.labels) | ({"tenant": tenant} if tenant else {})
        selector = format_labels(stream.labels)
        for entry in stream.entries:
            try:
                parsed.accept(_event(stream, entry, labels, selector, received, zone))
            except ValueError as exc:
                original = orjson.dumps({"stream": stream.labels, "values": [[str(entry.timestamp_ns), entry.line]]})
                parsed.rejected.append(Rejected("invalid_entry", describe(exc), original))
    return parsed


def _event(
    stream: Stream, entry: Entry, labels: dict[str, str], selector: str, received: datetime, zone: tzinfo
) -> Event:
    if not 0 <= entry.timestamp_ns <= _LATEST_NS:
        raise ValueError(f"timestamp {entry.timestamp_ns} ns is outside 1970..9999")
    when = _EPOCH + timedelta(microseconds=entry.timestamp_ns // 1000)
    context = LineContext(
        received=received,
        zone=zone,
        host=next((stream.labels[k] for k in _HOST_LABELS if stream.labels.get(k)), None),
        labels=labels,
        id=content_id("loki", selector, str(entry.timestamp_ns), entry.line),
    )
    event = _journal(entry.line, context) if entry.line.startswith("{") else parse_line(entry.line, context)
    if event is None:
        return _line_event(entry.line, context, when, stream.labels, entry.metadata)
    raw = event.raw if isinstance(event.raw, dict) else {}
    if entry.metadata:
        raw["metadata"] = entry.metadata
    return event.model_copy(update={"time": when, "raw": raw})


def _journal(line: str, context: LineContext) -> Event | None:
    """A journal entry forwarded as JSON, or any other JSON object line read as generic JSON (an app's
    ECS-shaped log line keeps its fields); None when the line is not a usable JSON object."""
    try:
        entry = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(entry, dict):
        return None
    journal = parse_journal(entry, context)
    if journal is not None:
        return journal
    item = {**entry, "id": entry.get("id") or context.id}
    if not isinstance(entry.get("message"), str):
        item["message"] = line  # keyword rules and analysts still search the whole line
    own_labels = entry.get("labels")
    item["labels"] = {**context.labels, **(own_labels if isinstance(own_labels, dict) else {})}
    if context.host and not isinstance(entry.get("host"), dict):
        item["host"] = {"name": context.host}
    try:
        return generic_event(item, context.received)
    except (ValueError, TypeError):
        return None  # not shaped like an event after all: kept whole as a message


def _line_event(
    line: str, context: LineContext, when: datetime, stream: dict[str, str], metadata: dict[str, str]
) -> Event:
    raw: dict[str, Any] = {"line": line, "stream": stream} | ({"metadata": metadata} if metadata else {})
    document: dict[str, Any] = {
        "id": context.id,
        "time": when,
        "ingested": context.received,
        "event": {"module": "generic", "dataset": stream.get("job") or stream.get("service_name") or "loki"},
        "logsource": {"product": "generic"},
        "message": line,
        "labels": dict(context.labels),
        "raw": raw,
    }
    if context.host:
        document["host"] = {"name": context.host}
    return Event.model_validate(document)
