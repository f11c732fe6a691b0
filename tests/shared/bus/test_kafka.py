"""The Kafka bus against a real broker: no loss, per-key order, at-least-once across crashes and restarts."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import structlog
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from services.shared.bus import Record
from services.shared.bus.kafka import MAX_RECORD_BYTES, KafkaBus
from services.shared.errors import RecordTooLarge
from tests.infra import ROOT, KafkaBroker
from tests.shared.bus.kafka_helpers import consume, isolated_settings

TOPIC = "siem.events"


async def test_ten_thousand_keyed_events_arrive_complete_and_in_key_order(kafka: KafkaBroker) -> None:
    """10,000 keyed events produced with acks=all are all consumed, and each key's events keep their order."""
    bus = KafkaBus(isolated_settings(kafka.bootstrap))
    await bus.start()
    try:
        records = [Record(value=f"{i}".encode(), key=f"key-{i % 97}".encode()) for i in range(10_000)]
        for start in range(0, len(records), 1000):
            await bus.send_many(TOPIC, records[start : start + 1000])
        received = await consume(bus, "order-test", TOPIC, expected=10_000)
    finally:
        await bus.close()

    values = [int(m.value) for m in received]
    assert sorted(values) == list(range(10_000))
    per_key: dict[bytes | None, list[int]] = defaultdict(list)
    for message in received:
        per_key[message.key].append(int(message.value))
    assert len(per_key) == 97
    assert all(seq == sorted(seq) for seq in per_key.values())
    assert {m.partition for m in received} == {0, 1, 2}


async def test_concurrent_senders_to_one_partition_queue_up_instead_of_retrying(kafka: KafkaBroker) -> None:
    """32 senders of one record at a time, all to one partition (one key), as ingest's single-event requests.

    aiokafka holds one batch per partition, and its wait for that slot timed out early under
    contention: the batch was failed and sent again half a second later (`kafka_send_retry`).
    """
    bus = KafkaBus(isolated_settings(kafka.bootstrap))
    await bus.start()

    async def sender(number: int) -> None:
        for turn in range(20):
            await bus.send(TOPIC, Record(value=f"{number}-{turn}".encode(), key=b"one-partition"))

    try:
        with structlog.testing.capture_logs() as logs:
            await asyncio.gather(*(sender(n) for n in range(32)))
        received = await consume(bus, "contention-test", TOPIC, expected=640)
    finally:
        await bus.close()

    assert [entry for entry in logs if entry["event"] == "kafka_send_retry"] == []
    assert sorted(m.value for m in received) == sorted(f"{n}-{t}".encode() for n in range(32) for t in range(20))


async def test_concurrent_calls_share_record_batches_and_each_returns_once_its_records_are_acked(
    kafka: KafkaBroker,
) -> None:
    """32 calls at once to one partition go out in fewer record batches than calls, each call's records in order."""
    bus = KafkaBus(isolated_settings(kafka.bootstrap))
    await bus.start()
    batches = _sent_batches(bus)
    try:
        await bus.send(TOPIC, Record(value=b"first", key=b"one-partition"))  # metadata known from here on
        calls = [[Record(value=f"{n}-{i}".encode(), key=b"one-partition") for i in range(10)] for n in range(32)]
        await asyncio.gather(*(bus.send_many(TOPIC, records) for records in calls))
        received = await consume(bus, "sharing-test", TOPIC, expected=321)
    finally:
        await bus.close()

    submitted = [batch.record_count() for batch in batches]
    assert sum(submitted) == 321
    assert len(submitted) - 1 < len(calls)
    values = [m.value for m in received]
    assert sorted(values) == sorted([b"first", *(r.value for records in calls for r in records)])
    for n in range(32):
        mine = [v for v in values if v.startswith(f"{n}-".encode())]
        assert mine == [f"{n}-{i}".encode() for i in range(10)]


async def test_a_partition_compresses_its_batches_once_they_run_large_and_stops_when_they_run_small(
    kafka: KafkaBroker,
) -> None:
    """zstd's cost a batch outweighs what it saves on a few events: a batch is compressed when the one before was large.

    Read from the record batches as sent (their bytes on the wire), and the records read back whole.
    """
    bus = KafkaBus(isolated_settings(kafka.bootstrap))
    await bus.start()
    batches = _sent_batches(bus)
    small = [Record(value=b"a" * 1000, key=b"one-partition")]
    large = [Record(value=b"%d" % n + b"a" * 1000, key=b"one-partition") for n in range(100)]
    try:
        for records in (small, large, large, small, small):
            await bus.send_many(TOPIC, records)
        received = await consume(bus, "compress-test", TOPIC, expected=203)
    finally:
        await bus.close()

    # Each batch was built when aiokafka sent it: its size is now the bytes that went on the wire.
    first_small, first_large, next_large, small_after_large, next_small = (batch.size() for batch in batches)
    assert first_small > 1000 and first_large > 100_000  # as appended: the partition had sent nothing large
    assert next_large < first_large / 10  # the batch before was large: zstd
    assert small_after_large < 500  # opened while compressing: it stays compressed
    assert next_small > 1000  # after a small batch: not compressed again
    assert sorted(m.value for m in received) == sorted(r.value for r in small * 3 + large * 2)


async def test_a_cancelled_call_does_not_cancel_the_batch_it_shares(kafka: KafkaBroker) -> None:
    """A call cancelled while its records are in flight (a client hanging up) leaves a call sharing the batch whole."""
    bus = KafkaBus(isolated_settings(kafka.bootstrap))
    await bus.start()
    mine = [Record(value=f"mine-{i}".encode(), key=b"one-partition") for i in range(5)]
    theirs = [Record(value=f"theirs-{i}".encode(), key=b"one-partition") for i in range(5)]
    try:
        await bus.send(TOPIC, Record(value=b"first", key=b"one-partition"))
        cancelled = asyncio.create_task(bus.send_many(TOPIC, mine))
        other = asyncio.create_task(bus.send_many(TOPIC, theirs))
        await asyncio.sleep(0)  # both have handed their records over and wait for the acknowledgement
        cancelled.cancel()
        await other
        received = await consume(bus, "cancel-test", TOPIC, expected=11)
    finally:
        await bus.close()

    assert cancelled.cancelled()
    assert sorted(m.value for m in received) == sorted([b"first", *(r.value for r in mine + theirs)])


async def test_a_consumed_message_carries_what_was_produced_and_where_it_was(kafka: KafkaBroker) -> None:
    """Topic without the prefix, partition, offset, value, key, headers as (name, value) pairs, a timestamp."""
    bus = KafkaBus(isolated_settings(kafka.bootstrap))
    await bus.start()
    try:
        headers = (("error_type", b"invalid_record"), ("stage", b"event_delivery"))
        await bus.send_many(TOPIC, [Record(value=b"v1", key=b"k", headers=headers), Record(value=b"v2", key=b"k")])
        first, second = await consume(bus, "fields-test", TOPIC, expected=2)
    finally:
        await bus.close()

    assert (first.topic, first.value, first.key, first.headers) == (TOPIC, b"v1", b"k", headers)
    assert first.header("stage") == b"event_delivery"
    assert (second.value, second.headers, second.partition) == (b"v2", (), first.partition)
    assert second.offset == first.offset + 1
    assert first.timestamp_ms > 0 and not first.replayed and not second.replayed


async def test_keys_pick_partitions_as_kafka_clients_do_and_an_unkeyed_call_stays_on_one(kafka: KafkaBroker) -> None:
    """A keyed record lands where Kafka's default partitioner puts it; one call's unkeyed records share a partition."""
    bus = KafkaBus(isolated_settings(kafka.bootstrap))
    await bus.start()
    try:
        await bus.send_many(TOPIC, [Record(value=b"k%d" % i, key=b"group-%d" % i) for i in range(60)])
        await bus.send_many(TOPIC, [Record(value=b"u%d" % i) for i in range(200)])
        received = await consume(bus, "partition-test", TOPIC, expected=260)
    finally:
        await bus.close()

    keyed = [m for m in received if m.key is not None]
    assert len(keyed) == 60
    assert all(m.partition == DefaultPartitioner()(m.key, [0, 1, 2], [0, 1, 2]) for m in keyed)
    assert len({m.partition for m in keyed}) == 3
    unkeyed = [m for m in received if m.key is None]
    assert len(unkeyed) == 200
    assert len({m.partition for m in unkeyed}) == 1


async def test_a_consumer_killed_before_commit_gets_its_events_again(kafka: KafkaBroker) -> None:
    """Events a consumer processed but did not commit before SIGKILL are delivered again to its group."""
    settings = isolated_settings(kafka.bootstrap)
    bus = KafkaBus(settings)
    await bus.start()
    try:
        await bus.send_many(TOPIC, [Record(value=f"{i}".encode(), key=b"k") for i in range(50)])
        victim = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("consume_without_commit.py")),
                kafka.bootstrap,
                settings.kafka_topic_prefix,
                "crash-test",
                TOPIC,
                "50",
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            line = await asyncio.wait_for(asyncio.to_thread(victim.stdout.readline), 90)  # type: ignore[union-attr]
            assert line.strip() == "processed 50"
        finally:
            victim.send_signal(signal.SIGKILL)
            victim.wait()
        again = await consume(bus, "crash-test", TOPIC, expected=50, timeout=90)
    finally:
        await bus.close()
    assert sorted(int(m.value) for m in again) == list(range(50))


async def test_producer_rides_out_a_broker_restart_without_loss(kafka: KafkaBroker) -> None:
    """With the broker stopped and restarted mid-stream, every event sent is on the topic afterwards."""
    bus = KafkaBus(isolated_settings(kafka.bootstrap, kafka_send_timeout_seconds=180))
    await bus.start()
    total, batch = 3000, 100
    try:

        async def produce() -> None:
            for start in range(0, total, batch):
                await bus.send_many(
                    TOPIC, [Record(value=f"{i}".encode(), key=f"{i % 7}".encode()) for i in range(start, start + batch)]
                )
                await asyncio.sleep(0.05)

        producing = asyncio.create_task(produce())
        await asyncio.sleep(0.5)
        await asyncio.to_thread(kafka.stop)
        assert not producing.done(), "the stream should still be running when the broker goes away"
        await asyncio.sleep(3)
        await asyncio.to_thread(kafka.start)
        await asyncio.wait_for(producing, 240)
        received = await consume(bus, "restart-test", TOPIC, expected=total, timeout=120)
    finally:
        await bus.close()
    assert set(int(m.value) for m in received) == set(range(total))


async def test_a_record_over_a_mebibyte_arrives_and_one_over_the_limit_is_refused_alone(kafka: KafkaBroker) -> None:
    """A 3 MiB envelope (a large Kubernetes object) is carried; one over the record limit is refused before it
    leaves, with its size named, and the partition goes on: the broker refusing a batch used to leave the
    idempotent producer's sequence behind, failing every later batch of that partition."""
    bus = KafkaBus(isolated_settings(kafka.bootstrap))
    await bus.start()
    try:
        large = base64.b64encode(os.urandom(3 * 1024 * 1024))  # incompressible: zstd cannot bring it under 1 MiB
        await bus.send_many(TOPIC, [Record(value=large, key=b"k")])
        with pytest.raises(RecordTooLarge, match=r"\d+ bytes"):
            await bus.send_many(TOPIC, [Record(value=b"x" * (MAX_RECORD_BYTES + 1), key=b"k")])
        await bus.send_many(TOPIC, [Record(value=b"after", key=b"k")])
        received = await consume(bus, "large-test", TOPIC, expected=2)
    finally:
        await bus.close()
    assert [m.value for m in received] == [large, b"after"]


def _sent_batches(bus: KafkaBus) -> list[BatchBuilder]:
    """The record batches the bus hands aiokafka from now on, in the order handed."""
    assert bus._producer is not None
    sent: list[BatchBuilder] = []
    send_batch = bus._producer.send_batch

    async def recorded(builder, topic, *, partition):  # type: ignore[no-untyped-def]
        sent.append(builder)
        return await send_batch(builder, topic, partition=partition)

    bus._producer.send_batch = recorded  # type: ignore[method-assign]
    return sent
