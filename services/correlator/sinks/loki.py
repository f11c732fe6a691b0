"""Loki sink: enriched events pushed to `POST /loki/api/v1/push`, batched, few stream labels, one JSON line each.

The stream labels are a contract (docs/sinks/loki-labels.md): dashboards and every alert's
`hunt` query select on them. Everything with many values stays in the line (the
EnrichedEvent JSON as consumed, `id` at top level) or in structured metadata.
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from operator import attrgetter
from typing import Any

import aiohttp
import msgspec
import orjson

from services.correlator.sinks.record import EnrichedFields, EnrichedRecord
from services.correlator.sinks.settings import SinksSettings
from services.shared.errors import SinkError
from services.shared.event import EnrichedEvent
from services.shared.loki.codec import JSON, PROTOBUF, Entry, Stream, encode_json, encode_protobuf, format_labels
from services.shared.metrics import SINK_SENT

PUSH_PATH = "/loki/api/v1/push"
LEVELS = ("informational", "low", "medium", "high", "critical")  # Sigma's levels, lowest first
MAX_LABEL_VALUE_CHARS = 64
TRUNCATED = "…[truncated]"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ERROR_EXCERPT_CHARS = 300


def loki_labels(event: EnrichedFields | EnrichedEvent, event_labels: Sequence[str]) -> dict[str, str]:
    """The stream labels of one event: bounded by construction, never ids, addresses or user names."""
    return dict(stream_labels(event, tuple(event_labels)))


def stream_labels(event: EnrichedFields | EnrichedEvent, event_labels: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The same labels as sorted (name, value) pairs: the key entries are grouped into streams by."""
    fields, source = event.event, event.logsource
    values = tuple(map(event.labels.get, event_labels))
    level = highest_level(event)
    return _stream_labels((fields.module, fields.dataset, level, source.product, source.service, event_labels, values))


_Key = tuple[str, str | None, str, str | None, str | None, tuple[str, ...], tuple[str | None, ...]]


# Few distinct label sets occur (they are bounded by design), so most events cost one lookup here: of one
# tuple, which the cache hashes once, rather than of six arguments it would pack into a new one.
@lru_cache(maxsize=4096)
def _stream_labels(key: _Key) -> tuple[tuple[str, str], ...]:
    module, dataset, level, product, service, names, values = key
    labels = (("module", module), ("dataset", dataset), ("level", level), ("product", product), ("service", service))
    # An empty label is no label to Loki; a long value is a sender's mistake, not a new stream per event.
    return tuple(
        sorted(
            (name, value.strip()[:MAX_LABEL_VALUE_CHARS])
            for name, value in labels + tuple(zip(names, values, strict=True))
            if value and value.strip()
        )
    )


def highest_level(event: EnrichedFields | EnrichedEvent) -> str:
    """The level of the most severe rule the event matched; "none" when it matched none."""
    if not event.matches:
        return "none"
    ranks = [LEVELS.index(m.level) if m.level in LEVELS else -1 for m in event.matches]
    best = max(ranks)
    return LEVELS[best] if best >= 0 else "unknown"


def loki_line(record: EnrichedRecord, max_bytes: int) -> str:
    """The event as one JSON line of at most `max_bytes`; an oversize one is cut and marked, never refused.

    A record that fits is the line as it is. For one that does not, `raw` and `message` (the
    free-form parts) are shortened first so the line stays JSON and `| json | id=...` still
    finds it; only if that is not enough is the line itself cut.
    """
    if record.size <= max_bytes:
        return record.line
    document = orjson.loads(record.line)
    document["truncated"] = {"original_bytes": record.size}
    for name in ("raw", "message"):
        if document.get(name) is not None:
            document[name] = _shortened(document, name, max_bytes)
            line = orjson.dumps(document)
            if len(line) <= max_bytes:
                return line.decode()
    return _cut_utf8(orjson.dumps(document), max_bytes - len(TRUNCATED.encode())) + TRUNCATED


def _shortened(document: dict[str, Any], name: str, max_bytes: int) -> str:
    value = document[name]
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    room = max_bytes - len(orjson.dumps({**document, name: TRUNCATED}))
    # JSON escaping can grow a string (up to 6 bytes per control character): shrink until it fits.
    while room > 0:
        candidate = _cut_utf8(text.encode(), room) + TRUNCATED
        if len(orjson.dumps({**document, name: candidate})) <= max_bytes:
            return candidate
        room -= max(1, len(orjson.dumps({**document, name: candidate})) - max_bytes)
    return TRUNCATED


def _cut_utf8(data: bytes, size: int) -> str:
    return data[: max(size, 0)].decode("utf-8", errors="ignore")


def timestamp_ns(moment: datetime) -> int:
    since = moment - _EPOCH  # whole days, seconds and microseconds: integers, no float rounding
    return ((since.days * 86_400 + since.seconds) * 1_000_000 + since.microseconds) * 1000


class _Labelled(msgspec.Struct, frozen=True, gc=False):  # one per event: a Struct is the cheapest to make
    labels: tuple[tuple[str, str], ...]
    entry: Entry
    size: int  # at least what the entry adds to a PushRequest: line, metadata and framing


# Upper bounds of protobuf's framing in a PushRequest (tags, lengths, the timestamp), per entry
# and per stream; a stream also carries its label text, and each metadata pair its own bytes.
_ENTRY_FRAMING = 48
_METADATA_FRAMING = 12
_STREAM_FRAMING = 16
_EVENT_ID = _METADATA_FRAMING + len("event_id")
_RULE_IDS = _METADATA_FRAMING + len("rule_ids")
_by_time = attrgetter("entry.timestamp_ns", "entry.line")


def build_loki_pushes(records: list[EnrichedRecord], settings: SinksSettings) -> list[list[Stream]]:
    """The push requests for a batch of events (pure: golden-tested).

    Entries are ordered by timestamp, cut into pushes whose PushRequest stays within
    `loki_batch_max_bytes` (Loki's ingesters refuse a message over their gRPC limit, 4 MiB by
    default, with a 500 that retrying cannot cure), and grouped by stream within each push, so
    every stream reaches Loki in order.
    """
    event_labels = tuple(settings.loki_event_labels)
    max_line_bytes = settings.loki_max_line_bytes
    metadata = settings.loki_structured_metadata
    labelled = [_labelled(record, event_labels, max_line_bytes, metadata) for record in records]
    labelled.sort(key=_by_time)
    cap = settings.loki_batch_max_bytes
    pushes: list[dict[tuple[tuple[str, str], ...], list[Entry]]] = []
    streams: dict[tuple[tuple[str, str], ...], list[Entry]] = {}
    size = cap
    for item in labelled:
        entries = streams.get(item.labels)
        grows = item.size if entries is not None else item.size + _stream_size(item.labels)
        if size + grows > cap:
            streams = {}
            pushes.append(streams)
            size = 0
            entries = None
            grows = item.size + _stream_size(item.labels)
        if entries is None:
            entries = streams[item.labels] = []
        entries.append(item.entry)  # in time order, as `labelled` is
        size += grows
    return [[Stream(dict(labels), push[labels]) for labels in sorted(push)] for push in pushes]


@lru_cache(maxsize=1024)  # a batch holds a handful of streams, asked about once per entry
def _stream_size(labels: tuple[tuple[str, str], ...]) -> int:
    return _STREAM_FRAMING + len(format_labels(dict(labels)).encode())


def _labelled(record: EnrichedRecord, event_labels: tuple[str, ...], max_line_bytes: int, metadata: bool) -> _Labelled:
    event = record.fields
    line = record.line if record.size <= max_line_bytes else loki_line(record, max_line_bytes)
    size = _ENTRY_FRAMING + (record.size if line is record.line else len(line.encode()))
    pairs: dict[str, str] = {}
    if metadata:
        pairs["event_id"] = event.id
        size += _EVENT_ID + len(event.id.encode())
        if event.matches:
            rule_ids = pairs["rule_ids"] = ",".join([m.id for m in event.matches])
            size += _RULE_IDS + len(rule_ids.encode())
    return _Labelled(stream_labels(event, event_labels), Entry(timestamp_ns(event.time), line, pairs), size)


def push_url(base: str) -> str:
    base = base.rstrip("/")
    return base if base.endswith(PUSH_PATH) else base + PUSH_PATH


class LokiSink:
    """Posts each push and maps Loki's answer: 2xx done, 429/5xx retriable, any other 4xx refused."""

    name = "loki"

    def __init__(self, settings: SinksSettings, session: aiohttp.ClientSession) -> None:
        assert settings.loki_url, "the Loki sink needs SIEM_LOKI_URL"
        self._settings = settings
        self._endpoint = push_url(settings.loki_url)
        self._session = session
        self._headers = {"Content-Type": PROTOBUF if settings.loki_format == "protobuf" else JSON}
        if settings.loki_format == "json":
            self._headers["Content-Encoding"] = "gzip"
        if settings.loki_tenant:
            self._headers["X-Scope-OrgID"] = settings.loki_tenant
        if settings.loki_bearer_token is not None:
            self._headers["Authorization"] = f"Bearer {settings.loki_bearer_token.get_secret_value()}"
        elif settings.loki_username and settings.loki_password is not None:
            pair = f"{settings.loki_username}:{settings.loki_password.get_secret_value()}"
            self._headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()

    async def send(self, records: list[EnrichedRecord]) -> None:
        for streams in build_loki_pushes(records, self._settings):
            await self._post(self._encode(streams))
        SINK_SENT.labels(self.name).inc(len(records))

    def _encode(self, streams: list[Stream]) -> bytes:
        if self._settings.loki_format == "protobuf":
            return encode_protobuf(streams)
        return gzip.compress(encode_json(streams), compresslevel=5)

    async def _post(self, body: bytes) -> None:
        try:
            async with self._session.post(self._endpoint, data=body, headers=self._headers) as answer:
                if answer.status < 300:
                    return
                detail = (await answer.text(errors="replace"))[:_ERROR_EXCERPT_CHARS].strip()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SinkError(self.name, f"{self._endpoint}: {type(exc).__name__}", retriable=True) from None
        # 429: the tenant's ingestion rate; 5xx: Loki or its gateway in trouble. Both pass; a 4xx will not,
        # nor a message over the ingesters' gRPC limit (a 500 too): refused, the batch is sent in parts.
        too_large = "larger than max" in detail
        retriable = (answer.status == 429 or answer.status >= 500) and not too_large
        raise SinkError(self.name, f"Loki answered {answer.status}: {detail}", retriable=retriable)
