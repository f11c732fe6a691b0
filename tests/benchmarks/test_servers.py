"""The ingest benchmark's floor server: the bare handler that also produces what it decoded.

Its figure stands for "the producer alone", so it must put every document it decoded on
`siem.events`, as it came, and nothing else. The bus here is the memory bus: what is checked is the
handler's hand-over, whichever bus takes it (the benchmark runs it over Kafka).
"""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from benchmarks.servers import bare_app, bare_then_produce
from services.shared import topics
from services.shared.bus.memory import MemoryBus


async def _posted(body: bytes) -> tuple[int, list[bytes]]:
    bus = MemoryBus(capacity=100)
    reader = bus.consumer("test", [topics.EVENTS])
    await reader.start()
    async with TestClient(TestServer(bare_app(bare_then_produce(bus)))) as client:
        answer = await client.post("/v1/events", data=body)
        status = answer.status
    return status, [message.value for message in await reader.getmany(timeout_ms=0, max_records=100)]


async def test_each_ndjson_line_goes_on_the_bus_as_it_came() -> None:
    lines = [b'{"id":"a","message":"one"}', b'{"id":"b","message":"two"}', b'{"id":"c"}']
    status, produced = await _posted(b"\n".join(lines[:2]) + b"\n\n" + lines[2] + b"\n")
    assert status == 202
    assert produced == lines


async def test_one_json_document_goes_on_the_bus_whole() -> None:
    body = b'{"id": "a",\n "message": "over two lines"}'
    status, produced = await _posted(body)
    assert status == 202
    assert produced == [body]


async def test_a_body_that_is_not_json_is_refused_and_nothing_is_produced() -> None:
    status, produced = await _posted(b'{"id":"a"}\nnot json\n')
    assert status == 500  # the bare baseline does no more than fail on it
    assert produced == []
