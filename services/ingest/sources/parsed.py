"""What a source returns: the envelopes of the events it made and the items it could not, with their original bytes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, overload

import orjson
from pydantic import ValidationError

from services.ingest.envelope import envelope
from services.shared.event import Event


@dataclass(frozen=True, slots=True)
class Rejected:
    """One item that could not become an event; `original` goes to the dead-letter topic."""

    error_type: str
    reason: str
    original: bytes
    line: int | None = None


@dataclass(slots=True)
class Parsed:
    """The accepted events' ids and envelope JSON (in order, what goes to `siem.events`), and the rejected items."""

    ids: list[str] = field(default_factory=list)
    envelopes: list[bytes] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    def accept(self, event: Event, raw_json: bytes | memoryview | None = None) -> None:
        """Add an event, written as its envelope; `raw_json`, when given, is JSON text that decodes to `event.raw`."""
        self.add(event.id, envelope(event, raw_json))

    def add(self, event_id: str, written: bytes) -> None:
        """Add an event already written as its envelope, checked against the contract (`checked_envelope`)."""
        self.ids.append(event_id)
        self.envelopes.append(written)

    def read_back(self) -> list[Event]:
        """The accepted events as a reader of `siem.events` gets them: each envelope validated into an `Event`."""
        return [Event.model_validate_json(written) for written in self.envelopes]


class Source(Protocol):
    name: str

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Parsed: ...


def describe(exc: Exception) -> str:
    """A one-line reason from a parser's ValueError, naming the field of a pydantic ValidationError."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "event"
        return f"{where}: {first['msg']}"
    return str(exc)


Document = tuple[int | None, Any, bytes]  # (line number in NDJSON, the decoded JSON, its original bytes)
ViewDocument = tuple[int | None, Any, bytes | memoryview]  # the same, a line's original a view of the body
_WHITESPACE = b" \t\n\r\x0b\x0c"  # what bytes.strip() strips


def is_blank(text: bytes | memoryview) -> bool:
    """Whether `text` holds only whitespace, as `not text.strip()`, without copying it (a body often ends in one)."""
    return not text or (text[0] in _WHITESPACE and bytes(text).isspace())


@overload
def json_documents(
    body: bytes, parsed: Parsed, decode_line: Callable[[memoryview], Any] = ..., *, views: Literal[False] = ...
) -> list[Document]: ...


@overload
def json_documents(
    body: bytes, parsed: Parsed, decode_line: Callable[[memoryview], Any] = ..., *, views: Literal[True]
) -> list[ViewDocument]: ...


def json_documents(
    body: bytes, parsed: Parsed, decode_line: Callable[[memoryview], Any] = orjson.loads, *, views: bool = False
) -> list[Document] | list[ViewDocument]:
    """The body as one JSON document or, failing that, as NDJSON lines; what cannot be read is rejected.

    Each line is read by `decode_line`, which raises orjson's JSONDecodeError for one it cannot read
    (the generic source reads a line's envelope keys only, and orjson's reason for a bad one). With
    `views`, a line's original is a view of the body rather than a copy; a rejected one is copied.
    """
    if is_blank(body):
        parsed.rejected.append(Rejected("empty_body", "the request body is empty", body))
        return []
    lines = _lines(body)
    first: ViewDocument | None = None
    if len(lines) >= 2:
        # A first line that is a document alone, with another after it, is not one document over
        # several lines: orjson would read the whole body only to fail at the second.
        number, line = lines[0]
        try:
            first = (number, decode_line(line), line if views else bytes(line))
        except orjson.JSONDecodeError:
            pass  # perhaps the first line of one document written over several
    if first is None:
        try:
            whole: list[ViewDocument] = [(None, orjson.loads(body), body)]
            return whole
        except orjson.JSONDecodeError as whole_error:
            if len(lines) < 2:
                parsed.rejected.append(Rejected("malformed_json", f"not valid JSON: {whole_error}", body))
                return []
    documents: list[ViewDocument] = [] if first is None else [first]
    for number, line in lines if first is None else lines[1:]:
        try:
            documents.append((number, decode_line(line), line if views else bytes(line)))
        except orjson.JSONDecodeError as line_error:
            parsed.rejected.append(
                Rejected("malformed_json", f"line {number}: not valid JSON: {line_error}", bytes(line), number)
            )
    return documents


def _lines(body: bytes) -> list[tuple[int, memoryview]]:
    """The body's lines that are not blank, numbered from 1, as views of it: splitting copied every line."""
    view, found, start, number = memoryview(body), [], 0, 0
    while start <= len(body):
        number += 1
        end = body.find(b"\n", start)
        if end == -1:
            end = len(body)
        if not is_blank(line := view[start:end]):
            found.append((number, line))
        start = end + 1
    return found
