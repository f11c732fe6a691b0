"""What a source returns: the events it made and the items it could not, with their original bytes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

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
    events: list[Event] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


class Source(Protocol):
    name: str

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Parsed: ...
