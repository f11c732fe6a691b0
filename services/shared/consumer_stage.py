"""A stage that consumes one topic in batches: take, handle, commit only after handling succeeded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import structlog

from services.shared.bus import Bus, Message
from services.shared.metrics import BATCH_SECONDS, MESSAGES_CONSUMED

log = structlog.get_logger()

BatchHandler = Callable[[list[Message]], Awaitable[dict[str, int]]]


class ConsumerStage:
    """Runs `handle` over batches of `topic` until stopped.

    At-least-once: a batch is committed only after `handle` returned, so a crash in between
    means the batch is delivered again. With `drain_on_stop` (the memory bus, where nothing
    outlives the process) it keeps going on stop until the topic is empty.
    """

    def __init__(
        self,
        name: str,
        bus: Bus,
        *,
        group: str,
        topic: str,
        handle: BatchHandler,
        max_records: int,
        drain_on_stop: bool,
        rewind_seconds: float = 0,
        on_partitions: Callable[[set[int]], None] | None = None,
    ) -> None:
        self.name = name
        self._consumer = bus.consumer(group, [topic], rewind_seconds=rewind_seconds)
        self._on_partitions = on_partitions
        self._topic = topic
        self._handle = handle
        self._max_records = max_records
        self._drain_on_stop = drain_on_stop

    async def run(self, stopping: asyncio.Event) -> None:
        await self._consumer.start()
        try:
            while True:
                asked = time.perf_counter()
                messages = await self._consumer.getmany(timeout_ms=200, max_records=self._max_records)
                waited = time.perf_counter() - asked
                if self._on_partitions is not None:
                    self._on_partitions(self._consumer.partitions())
                if messages:
                    await self._process(messages, waited)
                if stopping.is_set() and (not messages or not self._drain_on_stop):
                    return
        finally:
            await self._consumer.stop()

    async def _process(self, messages: list[Message], waited: float) -> None:
        started = time.perf_counter()
        MESSAGES_CONSUMED.labels(self.name, self._topic).inc(len(messages))
        stats = await self._handle(messages)
        await self._consumer.commit()
        elapsed = time.perf_counter() - started
        BATCH_SECONDS.labels(self.name).observe(elapsed)
        log.info(
            "batch_processed",
            stage=self.name,
            messages=len(messages),
            duration_ms=round(elapsed * 1000, 1),
            waited_ms=round(waited * 1000, 1),  # for this batch to arrive: a stage starved by its input shows here
            **stats,
        )
