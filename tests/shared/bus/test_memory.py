"""The embedded memory bus: order, redelivery until commit, backpressure, consumer groups."""

from __future__ import annotations

import asyncio
import contextlib

from services.shared.bus import Record
from services.shared.bus.memory import MemoryBus, MemoryConsumer

TOPIC = "t"


async def _consumer(bus: MemoryBus, group: str, topic: str = TOPIC) -> MemoryConsumer:
    consumer = bus.consumer(group, [topic])
    await consumer.start()
    return consumer


async def _values(consumer: MemoryConsumer, max_records: int = 100) -> list[bytes]:
    return [m.value for m in await consumer.getmany(timeout_ms=0, max_records=max_records)]


async def test_order_is_kept_per_topic() -> None:
    """Messages of one topic come out in the order sent, with increasing offsets, unmixed with other topics."""
    bus = MemoryBus(capacity=100)
    for i in range(5):
        await bus.send(TOPIC, Record(value=f"a{i}".encode()))
        await bus.send("other", Record(value=f"b{i}".encode()))
    consumer = await _consumer(bus, "g")
    messages = await consumer.getmany(timeout_ms=0, max_records=100)
    assert [m.value for m in messages] == [b"a0", b"a1", b"a2", b"a3", b"a4"]
    assert [m.offset for m in messages] == [0, 1, 2, 3, 4]
    assert {m.topic for m in messages} == {TOPIC}


async def test_key_and_headers_are_carried() -> None:
    """A consumed message carries the key and headers it was produced with."""
    bus = MemoryBus(capacity=10)
    await bus.send(TOPIC, Record(value=b"v", key=b"k", headers=(("h", b"1"),)))
    (message,) = await (await _consumer(bus, "g")).getmany(timeout_ms=0, max_records=10)
    assert (message.key, message.header("h"), message.header("missing")) == (b"k", b"1", None)


async def test_uncommitted_messages_are_redelivered_to_the_next_consumer_of_the_group() -> None:
    """What a consumer took but did not commit is given again to a new consumer of the same group."""
    bus = MemoryBus(capacity=100)
    await bus.send_many(TOPIC, [Record(value=f"m{i}".encode()) for i in range(3)])
    first = await _consumer(bus, "g")
    assert await _values(first) == [b"m0", b"m1", b"m2"]
    await first.stop()
    second = await _consumer(bus, "g")
    assert await _values(second) == [b"m0", b"m1", b"m2"]


async def test_committed_messages_are_not_redelivered() -> None:
    """After a commit, a new consumer of the group starts after what was committed."""
    bus = MemoryBus(capacity=100)
    await bus.send_many(TOPIC, [Record(value=b"old1"), Record(value=b"old2")])
    first = await _consumer(bus, "g")
    assert await _values(first) == [b"old1", b"old2"]
    await first.commit()
    await bus.send(TOPIC, Record(value=b"new"))
    second = await _consumer(bus, "g")
    assert await _values(second) == [b"new"]


async def test_getmany_wakes_up_on_a_new_message() -> None:
    """A waiting getmany returns the message sent while it waits, well before its timeout."""
    bus = MemoryBus(capacity=10)
    consumer = await _consumer(bus, "g")
    waiting = asyncio.create_task(consumer.getmany(timeout_ms=10_000, max_records=10))
    await bus.send(TOPIC, Record(value=b"late"))
    messages = await asyncio.wait_for(waiting, timeout=2)
    assert [m.value for m in messages] == [b"late"]


async def test_getmany_returns_nothing_after_its_timeout() -> None:
    """With nothing to read, getmany returns an empty list once its timeout passes."""
    bus = MemoryBus(capacity=10)
    consumer = await _consumer(bus, "g")
    assert await consumer.getmany(timeout_ms=20, max_records=10) == []


async def test_a_full_topic_makes_the_sender_wait_until_a_commit() -> None:
    """With capacity N and an uncommitted group, send N+1 waits until a commit, then completes; nothing dropped."""
    capacity = 3
    bus = MemoryBus(capacity=capacity)
    consumer = await _consumer(bus, "g")
    for i in range(capacity):
        await asyncio.wait_for(bus.send(TOPIC, Record(value=f"m{i}".encode())), timeout=1)

    blocked = asyncio.create_task(bus.send(TOPIC, Record(value=b"extra")))
    done, _ = await asyncio.wait({blocked}, timeout=0.1)
    assert not done, "the send past capacity should wait for the consumer"
    assert bus.backlog(TOPIC) == capacity

    assert await _values(consumer, max_records=1) == [b"m0"]
    await consumer.commit()
    await asyncio.wait_for(blocked, timeout=1)

    assert await _values(consumer) == [b"m1", b"m2", b"extra"]


async def test_a_stalled_group_holds_back_senders_even_if_another_group_commits() -> None:
    """Backpressure follows the slowest group: one group's commit does not free space the other still needs."""
    bus = MemoryBus(capacity=1)
    fast = await _consumer(bus, "fast")
    await _consumer(bus, "slow")
    await bus.send(TOPIC, Record(value=b"first"))
    assert await _values(fast) == [b"first"]
    await fast.commit()
    blocked = asyncio.create_task(bus.send(TOPIC, Record(value=b"second")))
    done, _ = await asyncio.wait({blocked}, timeout=0.1)
    assert not done
    blocked.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await blocked


async def test_every_group_sees_every_message() -> None:
    """Two consumer groups each receive all messages of the topic, independently of each other's commits."""
    bus = MemoryBus(capacity=100)
    one = await _consumer(bus, "one")
    two = await _consumer(bus, "two")
    await bus.send_many(TOPIC, [Record(value=f"m{i}".encode()) for i in range(4)])
    assert await _values(one) == [b"m0", b"m1", b"m2", b"m3"]
    await one.commit()
    assert await _values(two) == [b"m0", b"m1", b"m2", b"m3"]


async def test_a_replaced_consumer_reads_and_commits_nothing_more() -> None:
    """When a second consumer of a group starts, the first one loses the topic, as in a Kafka rebalance."""
    bus = MemoryBus(capacity=100)
    await bus.send_many(TOPIC, [Record(value=f"m{i}".encode()) for i in range(6)])
    first = await _consumer(bus, "g")
    assert len(await _values(first)) == 6
    second = await _consumer(bus, "g")
    await first.commit()
    assert await first.getmany(timeout_ms=0, max_records=10) == []
    assert len(await _values(second)) == 6
