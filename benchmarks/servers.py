"""HTTP servers the ingest benchmark loads, each a process of its own:

    python -m benchmarks.servers bare --port P            # the baseline: decode the body, answer 202
    python -m benchmarks.servers ingest-memory --port P   # the real ingest app over the memory bus

The baseline does the least any ingest must: read the body and decode it as JSON (one object,
or NDJSON line by line), then answer 202. The memory-bus variant is ingest's own create_app,
its settings and logging as `siem run` sets them up, with a drain standing in for the
correlator (taking and committing `siem.events` and `siem.dlq`), so the bus never pushes back.
The Kafka variant is `siem run ingest` itself, started by the benchmark.
"""

from __future__ import annotations

import argparse
import asyncio

import orjson
from aiohttp import web

from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from services.shared import topics
from services.shared.bus.memory import MemoryBus
from services.shared.http import Readiness
from services.shared.logging import configure_logging
from services.shared.runtime import settle_garbage_collector


async def _bare(request: web.Request) -> web.Response:
    body = await request.read()
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        for line in body.split(b"\n"):
            if line.strip():
                orjson.loads(line)
    return web.Response(status=202)


def bare_app() -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/v1/events", _bare)
    return app


async def _drain(bus: MemoryBus) -> None:
    consumer = bus.consumer("bench-drain", [topics.EVENTS, topics.DLQ])
    await consumer.start()
    while True:
        if await consumer.getmany(timeout_ms=200, max_records=10_000):
            await consumer.commit()


async def serve(kind: str, port: int) -> None:
    if kind == "bare":
        app = bare_app()
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
    parser.add_argument("kind", choices=("bare", "ingest-memory"))
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.kind, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
