"""Loki push bodies: protobuf+snappy (Loki's default) and JSON (optionally gzip), to and from `Stream`s.

Decoding is for untrusted input: the compressed and decompressed sizes are capped, and
every problem is a ParseError with a bounded `error_type`.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

import cramjam
import msgspec
import orjson
from google.protobuf.message import DecodeError

from services.shared.errors import ParseError
from services.shared.loki import push_pb2

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_LABEL_PAIR = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)', re.S)
_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


# Structs rather than frozen dataclasses: the sink builds an Entry per event, and a Struct costs a tenth as
# much to make. Neither can take part in a reference cycle, so the garbage collector need not track them.
class Entry(msgspec.Struct, frozen=True, gc=False):
    timestamp_ns: int
    line: str
    metadata: dict[str, str] = msgspec.field(default_factory=dict)


class Stream(msgspec.Struct, frozen=True, gc=False):
    labels: dict[str, str]
    entries: list[Entry]


def decode_push(body: bytes, content_type: str, content_encoding: str, max_bytes: int) -> list[Stream]:
    """The streams of one push request; protobuf bodies are snappy block compressed as Loki expects."""
    media = content_type.split(";")[0].strip().lower()
    if media == JSON:
        return _decode_json(_ungzip(body, max_bytes) if content_encoding.lower() == "gzip" else body)
    # Like Loki's own handler: anything that does not say JSON is a snappy-compressed protobuf.
    return _decode_protobuf(_unsnappy(body, max_bytes))


def encode_protobuf(streams: list[Stream]) -> bytes:
    """A snappy-compressed protobuf PushRequest, the body Loki ingests fastest."""
    return bytes(cramjam.snappy.compress_raw(push_request(streams).SerializeToString()))


def push_request(streams: list[Stream]) -> push_pb2.PushRequest:
    """The PushRequest message of some streams: what Loki's distributor passes on to its ingesters."""
    request = push_pb2.PushRequest()
    for stream in streams:
        # Each attribute of a message read from Python makes a wrapper object: read each once per entry.
        add = request.streams.add(labels=format_labels(stream.labels)).entries.add
        for entry in stream.entries:
            out = add(line=entry.line)
            timestamp = out.timestamp
            timestamp.seconds, timestamp.nanos = divmod(entry.timestamp_ns, 1_000_000_000)
            if entry.metadata:
                pair = out.structured_metadata.add
                for name, value in entry.metadata.items():
                    pair(name=name, value=value)
    return request


def encode_json(streams: list[Stream]) -> bytes:
    """The JSON PushRequest: timestamps are nanosecond strings, metadata an optional third element."""
    return orjson.dumps(
        {
            "streams": [
                {
                    "stream": s.labels,
                    "values": [
                        [str(e.timestamp_ns), e.line, e.metadata] if e.metadata else [str(e.timestamp_ns), e.line]
                        for e in s.entries
                    ],
                }
                for s in streams
            ]
        }
    )


def format_labels(labels: dict[str, str]) -> str:
    """Prometheus text form, sorted, with values escaped: `{host="a", job="b"}`."""
    parts = []
    for name in sorted(labels):
        value = labels[name].replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        parts.append(f'{name}="{value}"')
    return "{" + ", ".join(parts) + "}"


def parse_labels(text: str) -> dict[str, str]:
    """The inverse of `format_labels`; raises ParseError on anything else."""
    inner = text.strip()
    if not (inner.startswith("{") and inner.endswith("}")):
        raise ParseError("invalid_labels", 'stream labels must be in braces: {name="value", ...}')
    inner = inner[1:-1]
    labels: dict[str, str] = {}
    position = 0
    while position < len(inner.rstrip()):
        match = _LABEL_PAIR.match(inner, position)
        if not match:
            raise ParseError("invalid_labels", f"stream labels malformed near character {position + 1}")
        labels[match.group(1)] = re.sub(r'\\[\\"n]', lambda m: _ESCAPES[m.group(0)], match.group(2))
        position = match.end()
    if not labels:
        raise ParseError("invalid_labels", "a stream needs at least one label")
    return labels


def _unsnappy(body: bytes, max_bytes: int) -> bytes:
    try:
        # The block header states the decompressed size: refuse a bomb before inflating it.
        if cramjam.snappy.decompress_raw_len(body) > max_bytes:
            raise ParseError("body_too_large", f"the push decompresses to more than {max_bytes} bytes")
        return bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError:
        raise ParseError("invalid_compression", "the body is not snappy block compressed") from None


def _ungzip(body: bytes, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, max_bytes + 1)
    except zlib.error:
        raise ParseError("invalid_compression", "the body is not gzip") from None
    if len(data) > max_bytes or inflater.unconsumed_tail:
        raise ParseError("body_too_large", f"the push decompresses to more than {max_bytes} bytes")
    return data


def _decode_protobuf(raw: bytes) -> list[Stream]:
    request = push_pb2.PushRequest()
    try:
        request.ParseFromString(raw)
    except DecodeError:
        raise ParseError("invalid_protobuf", "the body is not a Loki PushRequest") from None
    return [
        Stream(
            labels=parse_labels(s.labels),
            entries=[
                Entry(
                    timestamp_ns=e.timestamp.seconds * 1_000_000_000 + e.timestamp.nanos,
                    line=e.line,
                    metadata={p.name: p.value for p in e.structured_metadata},
                )
                for e in s.entries
            ],
        )
        for s in request.streams
    ]


def _decode_json(raw: bytes) -> list[Stream]:
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ParseError("malformed_json", f"not valid JSON: {exc}") from None
    streams = document.get("streams") if isinstance(document, dict) else None
    if not isinstance(streams, list):
        raise ParseError("invalid_push", 'expected {"streams": [...]}')
    return [_json_stream(s, n) for n, s in enumerate(streams)]


def _json_stream(stream: Any, number: int) -> Stream:
    where = f"streams[{number}]"
    if not isinstance(stream, dict) or not isinstance(stream.get("stream"), dict):
        raise ParseError("invalid_push", f'{where}: expected {{"stream": {{labels}}, "values": [...]}}')
    labels = stream["stream"]
    if not labels or not all(isinstance(v, str) and _LABEL_NAME.fullmatch(k) for k, v in labels.items()):
        raise ParseError("invalid_labels", f"{where}.stream: label names must be identifiers with string values")
    values = stream.get("values")
    if not isinstance(values, list):
        raise ParseError("invalid_push", f"{where}.values: expected a list")
    return Stream(labels=dict(labels), entries=[_json_entry(v, f"{where}.values[{i}]") for i, v in enumerate(values)])


def _json_entry(value: Any, where: str) -> Entry:
    if not isinstance(value, list) or len(value) not in (2, 3) or not isinstance(value[1], str):
        raise ParseError("invalid_push", f'{where}: expected ["<unix ns>", "<line>"(, {{metadata}})]')
    try:
        timestamp_ns = int(value[0])
    except (TypeError, ValueError):
        raise ParseError("invalid_timestamp", f"{where}: the timestamp must be unix nanoseconds as a string") from None
    metadata = value[2] if len(value) == 3 else {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ParseError("invalid_push", f"{where}: structured metadata must map names to strings")
    return Entry(timestamp_ns=timestamp_ns, line=value[1], metadata=dict(metadata))


__all__ = ["Entry", "Stream", "decode_push", "encode_json", "encode_protobuf", "format_labels", "parse_labels"]
