"""JSON-lines file sink: one alert per line, appended; the embedded default's record of alerts."""

from __future__ import annotations

import asyncio
from pathlib import Path

from services.shared.alert import Alert
from services.shared.errors import SinkError
from services.shared.metrics import SINK_SENT


class JsonlSink:
    name = "jsonl"

    def __init__(self, path: Path) -> None:
        self._path = path

    async def send(self, alerts: list[Alert]) -> None:
        lines = "".join(alert.model_dump_json() + "\n" for alert in alerts)
        try:
            await asyncio.to_thread(self._append, lines)
        except OSError as exc:
            raise SinkError(self.name, f"{self._path}: {exc.strerror}", retriable=True) from None
        SINK_SENT.labels(self.name).inc(len(alerts))

    def _append(self, lines: str) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._path.open("a", encoding="utf-8") as file:
            file.write(lines)
            file.flush()
