"""The bus: one interface, two implementations (bounded in-memory for embedded mode, Kafka).

Both give the same guarantees a stage relies on: `send`/`send_many` return only once the
bus has the messages (a full memory bus makes the sender wait; Kafka waits for acks=all),
and a consumer sees again everything it took but did not `commit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import msgspec

from services.shared.settings import CommonSettings

Headers = tuple[tuple[str, bytes], ...]


# One of each per event at every stage: msgspec Structs build in a fraction of a frozen dataclass's time,
# and holding only bytes, text and numbers they can be left out of the garbage collector's passes.
class Record(msgspec.Struct, frozen=True, gc=False):
    """A message to produce."""

    value: bytes
    key: bytes | None = None
    headers: Headers = ()


class Message(msgspec.Struct, frozen=True, gc=False):
    """A message consumed, with where it came from."""

    topic: str
    partition: int
    offset: int
    value: bytes
    key: bytes | None = None
    headers: Headers = ()
    timestamp_ms: int = 0
    replayed: bool = False  # re-read to rebuild state after a partition moved; already acted on once

    def header(self, name: str) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


class Consumer(Protocol):
    async def start(self) -> None: ...

    async def getmany(self, timeout_ms: int, max_records: int) -> list[Message]:
        """The next messages, possibly none when `timeout_ms` passes."""
        ...

    async def commit(self) -> None:
        """Mark everything returned so far as processed."""
        ...

    def partitions(self) -> set[int]:
        """The partitions this consumer holds now (they move between instances of a group)."""
        ...

    async def stop(self) -> None: ...


class Bus(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def send(self, topic: str, record: Record) -> None: ...

    async def send_many(self, topic: str, records: Sequence[Record]) -> None: ...

    def consumer(self, group: str, topics: Sequence[str], *, rewind_seconds: float = 0) -> Consumer:
        """A consumer of `group`; with `rewind_seconds`, each partition it is given is first re-read
        from that far back (by message time) up to the group's commit, flagged `replayed`, so
        stateful stages can rebuild what the previous owner held."""
        ...


def create_bus(settings: CommonSettings) -> Bus:
    """Kafka when a bootstrap address is configured, otherwise the embedded memory bus."""
    if settings.kafka_bootstrap:
        from services.shared.bus.kafka import KafkaBus

        return KafkaBus(settings)
    from services.shared.bus.memory import MemoryBus

    return MemoryBus(capacity=settings.memory_bus_capacity)
