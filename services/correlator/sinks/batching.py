"""Batching by size and time for a sink that prefers fewer, larger requests (Loki).

The batch is held open on the consumer side, before anything is committed: a crash while
it fills loses nothing, because nothing it holds has been acknowledged to the bus yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from services.shared.bus import Bus, Consumer, Message, Record


class LingeringConsumer:
    """A consumer whose `getmany` keeps polling until `max_bytes` arrived or `linger_seconds` passed."""

    def __init__(self, inner: Consumer, *, linger_seconds: float, max_bytes: int) -> None:
        self._inner = inner
        self._linger = linger_seconds
        self._max_bytes = max_bytes

    async def start(self) -> None:
        await self._inner.start()

    async def getmany(self, timeout_ms: int, max_records: int) -> list[Message]:
        batch = await self._inner.getmany(timeout_ms=timeout_ms, max_records=max_records)
        if not batch:
            return batch
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._linger
        size = sum(len(m.value) for m in batch)
        while size < self._max_bytes and len(batch) < max_records:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            more = await self._inner.getmany(
                timeout_ms=max(1, int(remaining * 1000)), max_records=max_records - len(batch)
            )
            batch.extend(more)
            size += sum(len(m.value) for m in more)
        return batch

    async def commit(self) -> None:
        await self._inner.commit()

    def partitions(self) -> set[int]:
        return self._inner.partitions()

    async def stop(self) -> None:
        await self._inner.stop()


class LingeringBus:
    """The bus as it is, except that its consumers linger (see LingeringConsumer)."""

    def __init__(self, inner: Bus, *, linger_seconds: float, max_bytes: int) -> None:
        self._inner = inner
        self._linger = linger_seconds
        self._max_bytes = max_bytes

    async def start(self) -> None:
        await self._inner.start()

    async def close(self) -> None:
        await self._inner.close()

    async def send(self, topic: str, record: Record) -> None:
        await self._inner.send(topic, record)

    async def send_many(self, topic: str, records: Sequence[Record]) -> None:
        await self._inner.send_many(topic, records)

    def consumer(self, group: str, topics: Sequence[str], *, rewind_seconds: float = 0) -> Consumer:
        inner = self._inner.consumer(group, topics, rewind_seconds=rewind_seconds)
        return LingeringConsumer(inner, linger_seconds=self._linger, max_bytes=self._max_bytes)
