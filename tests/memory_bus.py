"""Reading back what a service put on the memory bus."""

from __future__ import annotations

from services.shared.bus import Message
from services.shared.bus.memory import MemoryBus


async def read_topic(bus: MemoryBus, topic: str, group: str = "test-reader") -> list[Message]:
    """Everything on `topic` that `group` has not read yet."""
    consumer = bus.consumer(group, [topic])
    await consumer.start()
    messages = await consumer.getmany(timeout_ms=0, max_records=100_000)
    await consumer.commit()
    return messages
