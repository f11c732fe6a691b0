"""JSON-lines file sink: one record (alert or event) per line, appended; the embedded default."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from services.shared.errors import SinkError
from services.shared.metrics import SINK_SENT

T = TypeVar("T")


class JsonlSink(Generic[T]):
    """Appends `line(record)` (one JSON object, no newline) for each record."""

    def __init__(self, path: Path, line: Callable[[T], str], name: str = "jsonl") -> None:
        self.name = name
        self._path = path
        self._line = line

    async def send(self, records: list[T]) -> None:
        lines = "".join(self._line(record) + "\n" for record in records)
        try:
            await asyncio.to_thread(self._append, lines)
        except OSError as exc:
            raise SinkError(self.name, f"{self._path}: {exc.strerror}", retriable=True) from None
        SINK_SENT.labels(self.name).inc(len(records))

    def _append(self, lines: str) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._path.open("a", encoding="utf-8") as file:
            file.write(lines)
            file.flush()
