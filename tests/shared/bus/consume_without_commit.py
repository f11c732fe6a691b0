"""A consumer process for the at-least-once test: takes messages, says so, never commits, waits to be killed."""

from __future__ import annotations

import asyncio
import sys

from services.shared.bus.kafka import KafkaBus
from services.shared.settings import CommonSettings


async def main(bootstrap: str, prefix: str, group: str, topic: str, expected: int) -> None:
    bus = KafkaBus(CommonSettings(kafka_bootstrap=bootstrap, kafka_topic_prefix=prefix))
    consumer = bus.consumer(group, [topic])
    await consumer.start()
    taken = 0
    while taken < expected:
        taken += len(await consumer.getmany(timeout_ms=500, max_records=1000))
    print(f"processed {taken}", flush=True)
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])))
