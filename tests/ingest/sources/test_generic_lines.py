"""NDJSON lines read for their envelope keys only (simdjson + msgspec) give what orjson gives, byte for byte."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
from hypothesis import event as note
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.recorded import corpus_events, generic_object
from services.ingest.sources import generic
from services.ingest.sources.generic import GenericSource
from services.ingest.sources.parsed import Parsed, Rejected, json_documents
from tests.ingest.test_envelope import _items

RECEIVED = datetime(2024, 5, 1, 12, tzinfo=UTC)


class _OrjsonOnly(GenericSource):
    """The generic source as it was: every line read whole by orjson."""

    def _read_line(self, line: memoryview) -> Any:
        return orjson.loads(line)


class _Clock(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> Any:
        return RECEIVED


@contextmanager
def _fixed() -> Iterator[None]:
    """A fixed receive time and numbered ids for items without one, so two parses can be compared byte for byte."""
    numbers = itertools.count()
    with (
        mock.patch.object(generic, "datetime", _Clock),
        mock.patch.object(generic.secrets, "token_hex", lambda _: f"id-{next(numbers)}"),
    ):
        yield


def _both(body: bytes) -> tuple[Parsed, Parsed]:
    with _fixed():
        fast = GenericSource().parse(body, {})
    with _fixed():
        slow = _OrjsonOnly().parse(body, {})
    return fast, slow


def _assert_same(body: bytes) -> Parsed:
    fast, slow = _both(body)
    assert fast.ids == slow.ids
    assert fast.envelopes == slow.envelopes
    assert fast.rejected == slow.rejected
    return fast


# JSON texts that orjson and msgspec read differently, or that one of them refuses, for a value's place.
_TRICKY_VALUES = [
    b"1e999",
    b"-1e999",
    b"1e308",
    b"1.7976931348623157e308",
    b"1.7976931348623159e308",
    b"1e-400",
    b"1" * 400,
    b"0." + b"0" * 400 + b"1",
    b"18446744073709551615",
    b"18446744073709551616",
    b"9223372036854775808",
    b"-9223372036854775808",
    b"-9223372036854775809",
    b"123456789012345678901234567890",
    b"0.1000000000000000055511151231257827",
    b"-0",
    b"-0.0",
    b"1E5",
    b'"\\ud800"',
    b'"\\udc00\\ud800"',
    b'"\\ud800\\u0041"',
    b'"\\ud83d\\ude00"',
    b'"\\u0000"',
    b'"\xc3\xa9"',
    b'"\xff"',
    b'"\xed\xa0\x80"',  # a surrogate written as UTF-8
    b'"\xc0\xaf"',  # an overlong encoding
    b'"a\tb"',
    b"NaN",
    b"Infinity",
    b"[" * 1100 + b"]" * 1100,
    b"[" * 1000 + b"]" * 1000,
    b"[1,]",
    b'{"product":"linux","service":"dpkg"}',
    b'{"product":1e999}',
    b'{"name":"\xff"}',
    b'"2024-05-01T12:00:00Z"',
    b"1714564800123",
    b"1714564800.5",
]
_KEYS = ["id", "time", "@timestamp", "timestamp", "logsource", "message", "labels", *generic._ECS_KEYS, "payload", "x"]
_plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
_value = st.sampled_from(_TRICKY_VALUES) | _plain.map(lambda v: json.dumps(v, ensure_ascii=False).encode())
_key = st.sampled_from(_KEYS) | st.text(max_size=4)


@st.composite
def _line(draw: st.DrawFn) -> bytes:
    """An object's text built by hand, so that keys may repeat and values may be what no encoder writes."""
    if draw(st.integers(0, 9)) == 0:  # now and then not an object at all, or a line with a byte order mark
        return draw(_value | st.sampled_from([b"\xef\xbb\xbf{}", b"{} x", b"{", b"[{}]"]))
    pairs = draw(st.lists(st.tuples(_key, _value), max_size=6))
    return b"{" + b",".join(json.dumps(k).encode() + b":" + v for k, v in pairs) + b"}"


_lines = st.lists(_line() | _items.map(lambda item: json.dumps(item).encode()), min_size=2, max_size=6)


@settings(max_examples=600, deadline=None)
@given(_lines)
def test_any_ndjson_body_gives_the_same_envelopes_and_rejections_both_ways(lines: list[bytes]) -> None:
    """For any NDJSON body, reading lines for their keys gives orjson's ids, envelope bytes and rejections."""
    parsed = _assert_same(b"\n".join(lines))
    note(f"accepted {min(len(parsed.ids), 2)}+, rejected {min(len(parsed.rejected), 2)}+")


def test_lines_orjson_refuses_are_refused_with_its_reason() -> None:
    """A line with 1e999, a byte not UTF-8 or a lone surrogate outside the envelope's keys is refused as before."""
    good = b'{"id":"a","message":"m"}'
    for bad in (b'{"x":1e999}', b'{"x":"\xff"}', b'{"x":"\\ud800"}', b'{"x":' + b"[" * 1100 + b"]" * 1100 + b"}"):
        fast = _assert_same(b"\n".join((good, bad)))
        assert fast.ids == ["a"]
        (rejected,) = fast.rejected
        assert (rejected.error_type, rejected.line, rejected.original) == ("malformed_json", 2, bad)
        assert rejected.reason.startswith("line 2: not valid JSON: ")


def test_big_numbers_in_the_envelopes_keys_are_read_as_orjson_reads_them() -> None:
    """An integer wider than 64 bits in a kept key reads as orjson's float, never as msgspec's int."""
    for line in (b'{"id":123456789012345678901234567890}', b'{"labels":{"n":18446744073709551616}}'):
        _assert_same(line + b"\n" + b'{"id":"b"}')


def test_every_recorded_and_corpus_item_gives_the_same_bytes_both_ways(corpus: Path) -> None:
    """Corpus events posted as NDJSON batches of 100 give the same envelopes both ways."""
    items = [generic_object(event) for kind in corpus_events(corpus).values() for event in kind]
    lines = [orjson.dumps(item) for item in items]
    read_for_keys = sum(type(GenericSource()._read_line(memoryview(line))) is generic._Keys for line in lines)
    assert read_for_keys == len(lines)  # the comparison below is of the two readings, not orjson with itself
    for start in range(0, len(lines), 100):
        _assert_same(b"\n".join(lines[start : start + 100]))


def _documents_as_before(body: bytes, parsed: Parsed) -> list[Any]:
    """json_documents as it was: the whole body tried first, then every line split off and read by orjson."""
    if not body.strip():
        parsed.rejected.append(Rejected("empty_body", "the request body is empty", body))
        return []
    try:
        return [(None, orjson.loads(body), body)]
    except orjson.JSONDecodeError as whole_error:
        lines = [(n, line) for n, line in enumerate(body.split(b"\n"), start=1) if line.strip()]
        if len(lines) < 2:
            parsed.rejected.append(Rejected("malformed_json", f"not valid JSON: {whole_error}", body))
            return []
    documents = []
    for number, line in lines:
        try:
            documents.append((number, orjson.loads(line), line))
        except orjson.JSONDecodeError as line_error:
            parsed.rejected.append(
                Rejected("malformed_json", f"line {number}: not valid JSON: {line_error}", line, number)
            )
    return documents


_pieces = (
    st.sampled_from(
        [b"{", b"}", b"[", b"]", b'"a"', b":", b",", b"1", b" ", b"\t", b"\r", b"\x0b", b"\x0c", b"\n", b"\n", b"\n"]
    )
    | _line()
)


@settings(max_examples=600, deadline=None)
@given(st.lists(_pieces, max_size=12).map(b"".join))
def test_a_body_is_cut_into_documents_as_before(body: bytes) -> None:
    """Any body (one document over several lines, NDJSON, blank lines, CRLF) gives the same documents and rejections."""
    now, before = Parsed(), Parsed()
    documents = json_documents(body, now)
    assert documents == _documents_as_before(body, before)
    assert now.rejected == before.rejected
    assert all(type(original) is bytes for _, _, original in documents)
    assert all(type(rejected.original) is bytes for rejected in now.rejected)


def test_a_rejected_lines_original_is_bytes_though_lines_are_read_as_views() -> None:
    """The generic source reads lines as views of the body, yet dead-letters bytes."""
    parsed = GenericSource().parse(b'{"id":"a"}\nnot json\n{"time":"x"}\n', {})
    assert parsed.ids == ["a"]
    assert [(r.line, r.original) for r in parsed.rejected] == [(2, b"not json"), (3, b'{"time":"x"}')]
    assert all(type(r.original) is bytes for r in parsed.rejected)
