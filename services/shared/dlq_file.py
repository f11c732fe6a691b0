"""Embedded mode's keeper of `siem.dlq`: with no Kafka to hold them, dead letters go to a JSON-lines file."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import orjson

from services.shared import topics
from services.shared.bus import Bus, Message
from services.shared.consumer_stage import ConsumerStage


class DeadLetterFileHandler:
    def __init__(self, path: Path) -> None:
        self._path = path

    async def __call__(self, messages: list[Message]) -> dict[str, int]:
        lines = b"".join(orjson.dumps(_record(m)) + b"\n" for m in messages)
        await asyncio.to_thread(self._append, lines)
        return {"dead_letters": len(messages)}

    def _append(self, lines: bytes) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._path.open("ab") as file:
            file.write(lines)


def _record(message: Message) -> dict[str, object]:
    record: dict[str, object] = {k.removeprefix("siem."): v.decode(errors="replace") for k, v in message.headers}
    try:
        record["original"] = message.value.decode("utf-8")
    except UnicodeDecodeError:
        record["original_base64"] = base64.b64encode(message.value).decode()
    return record


def dead_letter_file_stage(bus: Bus, path: Path, *, max_records: int) -> ConsumerStage:
    return ConsumerStage(
        "dlq_file",
        bus,
        group="siem-dlq-file",
        topic=topics.DLQ,
        handle=DeadLetterFileHandler(path),
        max_records=max_records,
        drain_on_stop=True,
    )
