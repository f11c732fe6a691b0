"""The consumer stage: handles a batch, commits it, and says in one line how long it took and waited."""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from services.shared.bus import Message, Record
from services.shared.bus.memory import MemoryBus
from services.shared.consumer_stage import ConsumerStage


async def test_a_batch_is_handled_committed_and_logged_with_its_wait() -> None:
    """Messages reach the handler once, are committed, and the batch line tells handling from waiting for input."""
    bus = MemoryBus(capacity=100)
    handled: list[list[bytes]] = []

    async def handle(messages: list[Message]) -> dict[str, int]:
        handled.append([m.value for m in messages])
        return {"alerts": 0}

    stage = ConsumerStage("test", bus, group="g", topic="t", handle=handle, max_records=10, drain_on_stop=True)
    stopping = asyncio.Event()
    with capture_logs() as logs:
        running = asyncio.create_task(stage.run(stopping))
        await asyncio.sleep(0.3)  # the stage waits for input first: that wait belongs to the batch
        await bus.send_many("t", [Record(b"a"), Record(b"b")])
        await asyncio.sleep(0.1)
        stopping.set()
        await running
    assert handled == [[b"a", b"b"]]
    [line] = [entry for entry in logs if entry["event"] == "batch_processed"]
    assert (line["stage"], line["messages"], line["alerts"]) == ("test", 2, 0)
    assert line["waited_ms"] >= 0 and line["duration_ms"] >= 0
    again = bus.consumer("g", ["t"])
    await again.start()
    assert await again.getmany(timeout_ms=0, max_records=10) == []  # committed: the group does not see them again
