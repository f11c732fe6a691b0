"""The broker's ceiling for the end-to-end benchmark: the same envelopes through Kafka alone, with our own bus.

    python -m benchmarks.kafka_worker produce --bootstrap B --prefix P --events FILE --count N
    python -m benchmarks.kafka_worker consume --bootstrap B --prefix P --count N

The producer sends like ingest does (KafkaBus.send_many, batches of 100, 8 at a time, acks=all,
idempotent); the consumer takes like a stage does (getmany of 500, commit). Each prints the
wall-clock time of its first and last message, so the pair gives events/s through the broker.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import orjson

from services.shared import topics
from services.shared.bus import Record
from services.shared.bus.kafka import KafkaBus
from services.shared.settings import CommonSettings

BATCH = 100
SENDERS = 8


async def produce(settings: CommonSettings, lines: list[bytes]) -> dict[str, float]:
    batches = [[Record(line) for line in lines[i : i + BATCH]] for i in range(0, len(lines), BATCH)]
    bus = KafkaBus(settings)
    await bus.start()
    queue: asyncio.Queue[list[Record]] = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)

    async def sender() -> None:
        while not queue.empty():
            await bus.send_many(topics.EVENTS, queue.get_nowait())

    first = time.time()
    await asyncio.gather(*(sender() for _ in range(SENDERS)))
    last = time.time()
    await bus.close()
    return {"first": first, "last": last, "count": len(lines)}


async def consume(settings: CommonSettings, count: int) -> dict[str, float]:
    bus = KafkaBus(settings)
    await bus.start()
    consumer = bus.consumer("bench-kafka-alone", [topics.EVENTS])
    await consumer.start()
    print("consuming", flush=True)
    seen, first, last = 0, 0.0, 0.0
    deadline = time.monotonic() + 300
    while seen < count and time.monotonic() < deadline:
        messages = await consumer.getmany(timeout_ms=200, max_records=500)
        if messages:
            first = first or time.time()
            seen += len(messages)
            await consumer.commit()
            last = time.time()
    await consumer.stop()
    await bus.close()
    return {"first": first, "last": last, "count": seen}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("produce", "consume"))
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--events", type=Path)
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args(argv)
    settings = CommonSettings(kafka_bootstrap=args.bootstrap, kafka_topic_prefix=args.prefix)
    if args.mode == "produce":
        assert args.events is not None, "--events is required to produce"
        result = asyncio.run(produce(settings, args.events.read_bytes().splitlines()[: args.count]))
    else:
        result = asyncio.run(consume(settings, args.count))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
