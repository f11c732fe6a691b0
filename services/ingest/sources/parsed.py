"""What a source returns: the envelopes of the events it made and the items it could not, with their original bytes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

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

    def accept(self, event: Event, raw_json: bytes | None = None) -> None:
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


def json_documents(body: bytes, parsed: Parsed, decode_line: Callable[[bytes], Any] = orjson.loads) -> list[Document]:
    """The body as one JSON document or, failing that, as NDJSON lines; what cannot be read is rejected.

    Each line is read by `decode_line`, which raises orjson's JSONDecodeError for one it cannot read
    (the generic source reads a line's envelope keys only, and orjson's reason for a bad one).
    """
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
    documents: list[Document] = []
    for number, line in lines:
        try:
            documents.append((number, decode_line(line), line))
        except orjson.JSONDecodeError as line_error:
            parsed.rejected.append(
                Rejected("malformed_json", f"line {number}: not valid JSON: {line_error}", line, number)
            )
    return documents
