"""Loki push bodies round-trip through our codec, and malformed ones are refused with a reason."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import cramjam
import pytest

from services.shared.errors import ParseError
from services.shared.loki.codec import Entry, Stream, decode_push, encode_json, encode_protobuf, parse_labels
from tests.infra import ROOT

STREAMS = [
    Stream({"job": "sshd", "host": 'we"b\\1'}, [Entry(1_700_000_000_123_456_789, "Accepted password", {"tid": "7"})]),
    Stream({"job": "app"}, [Entry(1, "a"), Entry(2, "b\nc")]),
]


def test_protobuf_round_trip() -> None:
    """What encode_protobuf writes, decode_push reads back identically, nanoseconds and metadata included."""
    assert decode_push(encode_protobuf(STREAMS), "application/x-protobuf", "", 1 << 20) == STREAMS


def test_json_round_trip_plain_and_gzip() -> None:
    """The JSON form round-trips, also gzip-compressed."""
    body = encode_json(STREAMS)
    assert decode_push(body, "application/json", "", 1 << 20) == STREAMS
    assert decode_push(gzip.compress(body), "application/json; charset=utf-8", "gzip", 1 << 20) == STREAMS


@pytest.mark.parametrize(
    ("body", "content_type", "error_type"),
    [
        (b"not snappy", "application/x-protobuf", "invalid_compression"),
        (b'{"streams": 1}', "application/json", "invalid_push"),
        (b"{", "application/json", "malformed_json"),
        (b'{"streams": [{"stream": {"a": "b"}, "values": [["x", "line"]]}]}', "application/json", "invalid_timestamp"),
        (b"x", "text/plain", "invalid_compression"),
        (b"x", "", "invalid_compression"),
    ],
)
def test_malformed_pushes_are_refused_with_their_error_type(body: bytes, content_type: str, error_type: str) -> None:
    """Each kind of broken push raises a ParseError naming what is wrong."""
    with pytest.raises(ParseError) as raised:
        decode_push(body, content_type, "", 1 << 20)
    assert raised.value.error_type == error_type


def test_a_snappy_bomb_is_refused_before_inflating() -> None:
    """A body that would decompress past the cap is refused on its declared size."""
    bomb = bytes(cramjam.snappy.compress_raw(b"\0" * (2 << 20)))
    with pytest.raises(ParseError) as raised:
        decode_push(bomb, "application/x-protobuf", "", 1 << 20)
    assert raised.value.error_type == "body_too_large"


def test_labels_parse_with_escapes_and_refuse_garbage() -> None:
    """Prometheus-style label text parses with escaped quotes; text that is not labels is refused."""
    assert parse_labels('{a="1", b="x\\"y"}') == {"a": "1", "b": 'x"y'}
    for bad in ("a=1", '{a="1" b="2"}', "{}", '{1a="x"}'):
        with pytest.raises(ParseError):
            parse_labels(bad)


def test_generated_code_matches_the_proto(tmp_path: Path) -> None:
    """push_pb2.py is what protoc makes of push.proto today (regenerate it when the .proto changes)."""
    loki = ROOT / "services" / "shared" / "loki"
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{loki}", f"--python_out={tmp_path}", str(loki / "push.proto")],
        check=True,
    )
    assert (tmp_path / "push_pb2.py").read_text() == (loki / "push_pb2.py").read_text()
