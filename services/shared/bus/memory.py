"""The embedded bus: one bounded log per topic in memory, consumer groups with commits.

A topic keeps what its slowest consumer group has not committed; when that reaches
`capacity`, `send` waits (backpressure) rather than dropping or growing without bound.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.shared.bus import Message, Record


@dataclass
class _Topic:
    name: str
    log: list[Message] = field(default_factory=list)
    base_offset: int = 0  # offset of log[0]
    committed: dict[str, int] = field(default_factory=dict)  # group -> next offset to read
    owners: dict[str, object] = field(default_factory=dict)  # group -> the consumer that holds the topic
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def end_offset(self) -> int:
        return self.base_offset + len(self.log)

    def backlog(self) -> int:
        oldest = min(self.committed.values(), default=self.base_offset)
        return self.end_offset - oldest

    def trim(self) -> None:
        oldest = min(self.committed.values(), default=self.base_offset)
        if oldest > self.base_offset:
            del self.log[: oldest - self.base_offset]
            self.base_offset = oldest


class MemoryBus:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._topics: dict[str, _Topic] = {}

    def _topic(self, name: str) -> _Topic:
        return self._topics.setdefault(name, _Topic(name))

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def send(self, topic: str, record: Record) -> None:
        await self.send_many(topic, [record])

    async def send_many(self, topic: str, records: Sequence[Record]) -> None:
        t = self._topic(topic)
        pending = list(records)
        while pending:
            async with t.changed:
                await t.changed.wait_for(lambda: t.backlog() < self.capacity)
                # As many as there is room for, at once: the backlog is worked out once per wait, not per record.
                room = self.capacity - t.backlog()
                now_ms = int(time.time() * 1000)
                first = t.end_offset
                # Positional fields (topic, partition, offset, value, key, headers, time), one extend:
                # this runs for every record stage 1 writes, two or more an event.
                t.log.extend(
                    [
                        Message(topic, 0, offset, record.value, record.key, record.headers, now_ms)
                        for offset, record in enumerate(pending[:room], first)
                    ]
                )
                del pending[:room]
                t.changed.notify_all()

    def consumer(self, group: str, topics: Sequence[str], *, rewind_seconds: float = 0) -> MemoryConsumer:
        # One process holds every partition for good here: there is never state to rebuild.
        return MemoryConsumer(self, group, list(topics))

    def backlog(self, topic: str) -> int:
        return self._topic(topic).backlog()


class MemoryConsumer:
    def __init__(self, bus: MemoryBus, group: str, topics: list[str]) -> None:
        self._bus = bus
        self._group = group
        self._topics = [bus._topic(name) for name in topics]
        self._position: dict[str, int] = {}
        # Registering the group at creation makes producers wait for it from the first message on.
        for t in self._topics:
            t.committed.setdefault(group, t.base_offset)

    async def start(self) -> None:
        for t in self._topics:
            # One partition per topic: like a Kafka rebalance, the newest consumer of a group takes it
            # over from the committed offset, and the one it replaced reads and commits nothing more.
            t.owners[self._group] = self
            self._position[t.name] = t.committed[self._group]

    def _take(self, max_records: int) -> list[Message]:
        taken: list[Message] = []
        for t in self._topics:
            if t.owners.get(self._group) is not self:
                continue
            start = self._position.get(t.name, t.committed[self._group])
            chunk = t.log[start - t.base_offset : start - t.base_offset + max_records - len(taken)]
            self._position[t.name] = start + len(chunk)
            taken.extend(chunk)
        return taken

    async def getmany(self, timeout_ms: int, max_records: int) -> list[Message]:
        taken = self._take(max_records)
        if taken or timeout_ms <= 0 or not self._topics:
            return taken
        # One topic's condition is enough to wake on: embedded stages each read one topic.
        first = self._topics[0]
        async with first.changed:
            try:
                await asyncio.wait_for(
                    first.changed.wait_for(lambda: first.end_offset > self._position.get(first.name, 0)),
                    timeout_ms / 1000,
                )
            except TimeoutError:
                pass
        return self._take(max_records)

    async def commit(self) -> None:
        for t in self._topics:
            if t.owners.get(self._group) is not self:
                continue
            async with t.changed:
                t.committed[self._group] = self._position.get(t.name, t.committed[self._group])
                t.trim()
                t.changed.notify_all()

    def partitions(self) -> set[int]:
        return {0}

    async def stop(self) -> None:
        for t in self._topics:
            if t.owners.get(self._group) is self:
                del t.owners[self._group]
