"""HTTP servers the ingest benchmark loads, each a process of its own:

    python -m benchmarks.servers bare --port P            # the baseline: decode the body, answer 202
    python -m benchmarks.servers ingest-memory --port P   # the real ingest app over the memory bus
    SIEM_KAFKA_BOOTSTRAP=H:P python -m benchmarks.servers bare-kafka --port P   # the baseline, then produced

The baseline does the least any ingest must: read the body and decode it as JSON (one object,
or NDJSON line by line), then answer 202. The memory-bus variant is ingest's own create_app,
its settings and logging as `siem run` sets them up, with a drain standing in for the
correlator (taking and committing `siem.events` and `siem.dlq`), so the bus never pushes back.
The Kafka variant is `siem run ingest` itself, started by the benchmark. `bare-kafka` is the
baseline that then puts each document it decoded on `siem.events` with our Kafka producer, as
ingest puts its envelopes, with no check and no envelope: the floor of any ingest that produces
through it, which shows how much of the baseline the produce alone takes.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from services.shared import topics
from services.shared.bus import Bus, Record
from services.shared.bus.kafka import KafkaBus
from services.shared.bus.memory import MemoryBus
from services.shared.http import Readiness
from services.shared.logging import configure_logging
from services.shared.runtime import settle_garbage_collector


def _documents(body: bytes) -> list[bytes]:
    """The body's JSON documents, each decoded by orjson: the body itself, or its NDJSON lines."""
    try:
        orjson.loads(body)
        return [body]
    except orjson.JSONDecodeError:
        lines = [line for line in body.split(b"\n") if line.strip()]
        for line in lines:
            orjson.loads(line)
        return lines


async def _bare(request: web.Request) -> web.Response:
    _documents(await request.read())
    return web.Response(status=202)


def bare_app(handler: Callable[[web.Request], Awaitable[web.Response]] = _bare) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/v1/events", handler)
    return app


def bare_then_produce(bus: Bus) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        documents = _documents(await request.read())
        await bus.send_many(topics.EVENTS, [Record(value=document) for document in documents])
        return web.Response(status=202)

    return handle


async def _drain(bus: MemoryBus) -> None:
    consumer = bus.consumer("bench-drain", [topics.EVENTS, topics.DLQ])
    await consumer.start()
    while True:
        if await consumer.getmany(timeout_ms=200, max_records=10_000):
            await consumer.commit()


async def serve(kind: str, port: int) -> None:
    if kind == "bare":
        app = bare_app()
    elif kind == "bare-kafka":
        settings = IngestSettings.load()
        configure_logging(settings, "siem-ingest")
        kafka = KafkaBus(settings)
        await kafka.start()
        app = bare_app(bare_then_produce(kafka))
        settle_garbage_collector()
    else:
        settings = IngestSettings.load()
        configure_logging(settings, "siem-ingest")
        bus = MemoryBus(capacity=settings.memory_bus_capacity)
        readiness = Readiness()
        readiness.ready = True
        app = create_app(settings, bus, readiness)
        asyncio.get_running_loop().create_task(_drain(bus))
        settle_garbage_collector()  # as `siem run` does once started
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("listening", flush=True)
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("bare", "bare-kafka", "ingest-memory"))
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.kind, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
