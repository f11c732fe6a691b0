"""The Kafka bus over aiokafka: idempotent producer with acks=all, manual commits, topics made at start."""

from __future__ import annotations

import asyncio
import copy
import functools
import itertools
import time
from collections import defaultdict, deque
from collections.abc import Sequence

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError, TopicAlreadyExistsError
from aiokafka.partitioner import murmur2
from aiokafka.producer.message_accumulator import BatchBuilder

from services.shared import topics
from services.shared.bus import Message, Record
from services.shared.errors import BusUnavailable, RecordTooLarge
from services.shared.settings import CommonSettings

log = structlog.get_logger()

# The largest record a topic takes (its max.message.bytes, set when the bus creates it): an audit event
# carrying a Kubernetes object of a few MiB must fit. A larger record is refused before it leaves: a batch
# the broker refuses leaves aiokafka's idempotent sequence behind, and every later batch of its partition fails.
MAX_RECORD_BYTES = 8 * 1024 * 1024
_FRAMING_BYTES = 64 * 1024  # a record batch's and a produce request's own bytes around the record
_MAX_REQUEST_BYTES = MAX_RECORD_BYTES + _FRAMING_BYTES
_MAX_BATCH_BYTES = 1_000_000  # under the broker's default message.max.bytes (1 MiB plus headers)
# zstd costs ~17 µs a batch before its first byte (cramjam makes a context each call), then ~2-3 µs an
# event of 2.7 KB. A batch of a few events (single webhooks, ingest's 8 callers of one event) cost the
# producer 15 µs an event more compressed than not, for no gain at the broker (`benchmarks.produce_ab
# --per-call 1`); a batch of hundreds is where zstd pays. A partition's batches are compressed when
# the one before reached this size: traffic keeps its shape from one round trip to the next.
_COMPRESS_FROM_BYTES = 64 * 1024


@functools.lru_cache(maxsize=65_536)  # hits and alerts repeat their keys (a group, a rule): hash each once
def _murmur2(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF  # positive, as Kafka's default partitioner takes it


async def _settled(future: asyncio.Future[object]) -> object:
    """The future's result, or the exception it failed with."""
    try:
        return await future
    except Exception as exc:
        return exc


def _retriable(error: BaseException) -> bool:
    # aiokafka marks a batch that expired while the broker was away as not retriable; for us it is.
    return isinstance(error, KafkaTimeoutError) or (isinstance(error, KafkaError) and error.retriable)


class KafkaBus:
    def __init__(self, settings: CommonSettings) -> None:
        assert settings.kafka_bootstrap
        self._settings = settings
        self._bootstrap = settings.kafka_bootstrap
        self._prefix = settings.kafka_topic_prefix
        self._producer: AIOKafkaProducer | None = None
        self._turn: dict[str, itertools.count[int]] = defaultdict(itertools.count)  # where unkeyed records go next
        self._queues: dict[tuple[str, int], _PartitionQueue] = {}

    async def start(self) -> None:
        await self._retry_until_connected(self._create_topics)
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            client_id=self._settings.kafka_client_id,
            acks="all",
            enable_idempotence=True,
            max_request_size=_MAX_REQUEST_BYTES,
            request_timeout_ms=30_000,
            retry_backoff_ms=250,
            # No linger_ms: `_PartitionQueue` closes each batch before queueing it and aiokafka sends a
            # closed batch at once, so a linger would only delay aiokafka's per-record `send`, which we
            # never call. One record batch holds what callers added to a partition during the last round
            # trip, up to 1 MiB before compression (the broker takes up to 1 MiB after it).
            max_batch_size=_MAX_BATCH_BYTES,
            # zstd at aiokafka's level 3: ~3 µs an event of 2.7 KB, 14× smaller (~30× in batches of 800).
            # Uncompressed, aiokafka copies a request about eight times in Python, CRCs it and writes it
            # over loopback, and the broker stores and serves it all. With `_PartitionQueue`'s shared
            # batches, `benchmarks --only ingest` (old and new alternated, batches of 100): ingest 35 ->
            # 23-25 µs of CPU an event, the broker 14-15 -> 8-10. `benchmarks.produce_ab` (the producer
            # alone, in one process): producer about even, broker 5.6 -> 2.1, and a consumer's getmany
            # 10.4 -> 6.3. zstd on batches of 100 alone cost the producer ~1 µs more. lz4 here means
            # lz4 HC (aiokafka fixes level 9: ~20 µs an event), which is why it lost in session 4.
            # Only batches that follow a large one are compressed (`_COMPRESS_FROM_BYTES`).
            compression_type="zstd",
        )
        await self._retry_until_connected(self._producer.start)

    async def _retry_until_connected(self, step) -> None:  # type: ignore[no-untyped-def]
        """A broker that is still starting is normal in a cluster: wait for it, within the send timeout."""
        deadline = asyncio.get_running_loop().time() + self._settings.kafka_send_timeout_seconds
        while True:
            try:
                await step()
                return
            except KafkaConnectionError:
                if asyncio.get_running_loop().time() > deadline:
                    raise BusUnavailable(
                        f"Kafka at {self._bootstrap} unreachable for {self._settings.kafka_send_timeout_seconds:.0f}s"
                    ) from None
                log.warning("kafka_unreachable", bootstrap=self._bootstrap)
                await asyncio.sleep(1)

    async def _create_topics(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, client_id=self._settings.kafka_client_id)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            wanted = [
                NewTopic(
                    self._prefix + name,
                    self._settings.kafka_partitions,
                    self._settings.kafka_replication_factor,
                    topic_configs={"max.message.bytes": str(MAX_RECORD_BYTES + _FRAMING_BYTES)},
                )
                for name in topics.ALL
                if self._prefix + name not in existing
            ]
            if wanted:
                try:
                    await admin.create_topics(wanted)
                except TopicAlreadyExistsError:
                    pass  # another instance won the race
                log.info("topics_created", topics=[t.name for t in wanted])
        finally:
            await admin.close()

    async def close(self) -> None:
        if self._producer is not None:
            for queue in list(self._queues.values()):
                await queue.flush()  # what callers already handed over still goes out
            self._queues.clear()
            await self._producer.stop()  # flushes what is in flight
            self._producer = None

    async def send(self, topic: str, record: Record) -> None:
        await self.send_many(topic, [record])

    async def send_many(self, topic: str, records: Sequence[Record]) -> None:
        """Returns once every record is acknowledged by all in-sync replicas.

        Records go out in record batches per partition, not one `send` each: per-record sends
        cost more CPU than everything else a stage does to an event. Concurrent calls share
        them (see `_PartitionQueue`). A keyed record goes to the partition of its key (Kafka's
        murmur2, as every Kafka client computes it); records without a key all go to one
        partition per call, taken in turn (Kafka's sticky partitioner). Records whose batch
        failed for a retriable reason (broker restarting, leader moving) are sent again until
        `kafka_send_timeout_seconds`; the idempotent producer keeps that from writing
        duplicates within one producer session. Each call hears only of its own records.
        """
        assert self._producer is not None, "bus not started"
        largest = max((len(record.value) + len(record.key or b"") for record in records), default=0)
        if largest > MAX_RECORD_BYTES:  # nothing of the call is sent: the caller decides about all of it
            raise RecordTooLarge(f"a record of {largest} bytes is over the {MAX_RECORD_BYTES} bytes {topic} takes")
        name = self._prefix + topic
        pending = list(records)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.kafka_send_timeout_seconds
        while pending:
            placed: list[tuple[asyncio.Future[None] | BaseException, list[Record]]] = []
            try:
                partitions = sorted(await self._producer.partitions_for(name))
            except KafkaError as exc:  # no metadata yet: the broker is away
                placed.append((exc, pending))
            else:
                for partition, batch in self._batches(name, pending, partitions):
                    placed += self._queue(name, partition).add(batch)
            failed: list[Record] = []
            for outcome, batch in placed:
                # Shielded: a caller that is cancelled must not cancel a batch other callers share.
                result = outcome if isinstance(outcome, BaseException) else await _settled(asyncio.shield(outcome))
                if isinstance(result, BaseException):
                    if not _retriable(result) or loop.time() > deadline:
                        raise copy.copy(result)  # one exception object shared by callers would pile up tracebacks
                    failed += batch
            if failed:
                log.warning("kafka_send_retry", topic=topic, failed=len(failed))
                await asyncio.sleep(0.5)
            pending = failed

    def _batches(self, name: str, records: list[Record], partitions: list[int]) -> list[tuple[int, list[Record]]]:
        unkeyed = partitions[next(self._turn[name]) % len(partitions)]
        by_partition: dict[int, list[Record]] = defaultdict(list)
        for record in records:
            partition = unkeyed if record.key is None else partitions[_murmur2(record.key) % len(partitions)]
            by_partition[partition].append(record)
        return list(by_partition.items())

    def _queue(self, name: str, partition: int) -> _PartitionQueue:
        queue = self._queues.get((name, partition))
        if queue is None:
            assert self._producer is not None
            queue = self._queues[name, partition] = _PartitionQueue(
                self._producer, name, partition, self._settings.kafka_send_timeout_seconds
            )
        return queue

    def consumer(self, group: str, topics: Sequence[str], *, rewind_seconds: float = 0) -> KafkaConsumer:
        return KafkaConsumer(self._settings, group, list(topics), rewind_seconds)


class _PartitionQueue:
    """One partition's outgoing records: one record batch in flight, the next one open to every caller.

    aiokafka sends one produce request per broker at a time, one record batch per partition in
    it. So concurrent `send_many` calls (ingest's HTTP requests) append to one open batch while
    the previous is in flight, and it leaves when that one is acknowledged: a request carries
    what arrived during the last round trip (800 events for ingest's 8 callers of 100, against
    300 when each call had its own batch). Larger batches compress better (zstd: 14× at 100
    envelopes, ~30× at 800) and share the per-request and per-batch work; without compression
    they cost more per event, not less (2 MB requests copied eight times), so the two go
    together. A batch that fills (`max_batch_size`) is closed and the next one opened; they leave
    in order, so records of one key keep theirs. Each caller waits for the batches holding its
    records, and hears of their failure itself.
    """

    def __init__(self, producer: AIOKafkaProducer, name: str, partition: int, send_timeout_seconds: float) -> None:
        self._producer = producer
        self._name = name
        self._partition = partition
        self._send_timeout_seconds = send_timeout_seconds
        self._waiting: deque[tuple[BatchBuilder, asyncio.Future[None]]] = deque()  # the last one is open
        self._sending: asyncio.Task[None] | None = None
        self.compressing = False  # whether batches opened now are compressed (`_COMPRESS_FROM_BYTES`)

    def add(self, records: list[Record]) -> list[tuple[asyncio.Future[None], list[Record]]]:
        """Append the records to the open batch, opening more as batches fill; which batch holds which records."""
        builder, acked = self._waiting[-1] if self._waiting else self._open()
        placed = []
        first = 0
        for index, record in enumerate(records):
            if builder.append(timestamp=None, key=record.key, value=record.value, headers=list(record.headers)) is None:
                if index > first:
                    placed.append((acked, records[first:index]))
                first = index
                builder, acked = self._open()
                # An empty batch takes any one record; the broker judges one over its limit.
                builder.append(timestamp=None, key=record.key, value=record.value, headers=list(record.headers))
        placed.append((acked, records[first:]))
        if self._sending is None:
            self._sending = asyncio.create_task(self._send_all())
        return placed

    def _open(self) -> tuple[BatchBuilder, asyncio.Future[None]]:
        # The producer's batches are zstd; an uncompressed one is the same builder with no codec. Each
        # record batch names its own codec, so the idempotent producer sends either alike.
        builder = (
            self._producer.create_batch()
            if self.compressing
            else BatchBuilder(_MAX_BATCH_BYTES, compression_type=0, is_transactional=False)
        )
        batch = (builder, asyncio.get_running_loop().create_future())
        self._waiting.append(batch)
        return batch

    async def _send_all(self) -> None:
        """Send the waiting batches one at a time, each when the one before is acknowledged."""
        builder, acked = None, None
        try:
            while self._waiting:
                builder, acked = self._waiting.popleft()
                builder.close()  # nothing is appended once it is taken: aiokafka sends a closed batch at once
                self.compressing = builder.size() >= _COMPRESS_FROM_BYTES
                try:
                    await self._submit(builder)
                except Exception as exc:  # the callers decide: send their records again, or give up
                    acked.set_exception(exc)
                    acked.exception()  # retrieved: callers that were cancelled never look at it
                else:
                    acked.set_result(None)
        finally:
            self._sending = None
            for _, waiting in [(builder, acked), *self._waiting]:  # only when cancelled (the bus closing)
                if waiting is not None and not waiting.done():
                    waiting.set_exception(KafkaError("the bus closed before this batch was sent"))
                    waiting.exception()
            self._waiting.clear()

    async def _submit(self, builder: BatchBuilder) -> None:
        """Queue a closed batch for the partition and wait for its acknowledgement.

        aiokafka holds one batch at a time per partition. It is normally free here, as the next
        batch is offered only once the one before is acknowledged; should aiokafka's wait for it
        time out anyway (0.14 takes the time already waited off its budget again at every turn),
        the batch was not queued, so it is offered again at once, within the send timeout.
        """
        deadline = asyncio.get_running_loop().time() + self._send_timeout_seconds
        while True:
            try:
                delivered = await self._producer.send_batch(builder, self._name, partition=self._partition)
                break
            except KafkaTimeoutError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
        await delivered

    async def flush(self) -> None:
        if self._sending is not None:
            await asyncio.shield(self._sending)


class KafkaConsumer:
    def __init__(self, settings: CommonSettings, group: str, topics: list[str], rewind_seconds: float = 0) -> None:
        self._settings = settings
        self._group = settings.kafka_topic_prefix + group
        self._topics = [settings.kafka_topic_prefix + name for name in topics]
        self._prefix = settings.kafka_topic_prefix
        self._rewind_seconds = rewind_seconds
        self._replay_until: dict[TopicPartition, int] = {}  # below this offset a message is a replay
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        # aiokafka binds to the running loop at construction, so the consumer is built here.
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.kafka_bootstrap,
            client_id=self._settings.kafka_client_id,
            group_id=self._group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=_MAX_REQUEST_BYTES,
            # fetch_min_bytes=1 and fetch_max_wait_ms=500 (aiokafka's defaults) on purpose: a fetch comes
            # back as soon as there is data. Making the broker hold fetches until they fill (256 KiB or
            # 1 MiB, 20-50 ms) was measured end to end and against the broker alone (2026-11-26): at
            # saturation a stage is behind and every fetch is already full (batches of 470-500), so
            # neither CPU per event nor the sustained rate moved; below it, 1 MiB/50 ms halved the fetches
            # at 3 k events/s but added up to 50 ms a hop, and 20 ms made idle fetches more frequent.
        )
        listener = _Rewind(self) if self._rewind_seconds > 0 else None
        self._consumer.subscribe(self._topics, listener=listener)
        await self._consumer.start()

    async def getmany(self, timeout_ms: int, max_records: int) -> list[Message]:
        assert self._consumer is not None, "consumer not started"
        batches = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        messages: list[Message] = []
        for tp, records in batches.items():
            topic = tp.topic.removeprefix(self._prefix)
            replay_until = self._replay_until.get(tp, 0)
            # One Message per record is most of what this costs: its fields are passed by position (a frozen
            # dataclass takes keywords at several times the price), and aiokafka's headers are already a
            # tuple of (name, value) pairs.
            messages += [
                Message(topic, r.partition, r.offset, r.value, r.key, r.headers, r.timestamp, r.offset < replay_until)
                for r in records
            ]
        return messages

    async def commit(self) -> None:
        """Commit what was consumed, never below what the group had committed before a rewind."""
        assert self._consumer is not None, "consumer not started"
        offsets = {}
        for tp in self._consumer.assignment():
            position = await self._consumer.position(tp)
            offsets[tp] = max(position, self._replay_until.get(tp, 0))
        if offsets:
            await self._consumer.commit(offsets)

    def partitions(self) -> set[int]:
        assert self._consumer is not None, "consumer not started"
        return {tp.partition for tp in self._consumer.assignment()}

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()


class _Rewind(ConsumerRebalanceListener):  # type: ignore[misc]
    """On assignment, seek each new partition back by the rewind period, remembering where replay ends."""

    def __init__(self, owner: KafkaConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        for tp in revoked:
            self._owner._replay_until.pop(tp, None)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        consumer = self._owner._consumer
        assert consumer is not None
        since_ms = int((time.time() - self._owner._rewind_seconds) * 1000)
        for tp in assigned:
            committed = await consumer.committed(tp)
            if not committed:
                continue  # nothing was processed here before: nothing to rebuild
            found = (await consumer.offsets_for_times({tp: since_ms})).get(tp)
            start = found.offset if found is not None else committed
            if start < committed:
                self._owner._replay_until[tp] = committed
                consumer.seek(tp, start)
                log.info("partition_rewound", topic=tp.topic, partition=tp.partition, start=start, until=committed)
