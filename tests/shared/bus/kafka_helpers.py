"""Small helpers for tests over the real broker: an isolated bus per test, and draining a topic."""

from __future__ import annotations

import asyncio
import uuid

from services.shared.bus import Message
from services.shared.bus.kafka import KafkaBus
from services.shared.settings import CommonSettings


def isolated_settings(bootstrap: str, prefix: str | None = None, **overrides: object) -> CommonSettings:
    """Settings whose topics and groups no other test shares."""
    return CommonSettings(
        kafka_bootstrap=bootstrap,
        kafka_topic_prefix=prefix or f"t{uuid.uuid4().hex[:10]}.",
        kafka_partitions=3,
        **overrides,  # type: ignore[arg-type]
    )


async def consume(bus: KafkaBus, group: str, topic: str, expected: int, timeout: float = 60.0) -> list[Message]:
    """Read `topic` as `group` until `expected` messages arrived (or time runs out), committing each batch."""
    consumer = bus.consumer(group, [topic])
    await consumer.start()
    received: list[Message] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(received) < expected and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=1000)
            received.extend(batch)
            if batch:
                await consumer.commit()
    finally:
        await consumer.stop()
    return received
