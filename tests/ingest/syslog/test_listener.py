"""The syslog listeners with real clients: util-linux `logger` over UDP and TCP, raw sockets for framing and load."""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY

from services.ingest.settings import IngestSettings
from services.ingest.syslog.listener import SyslogListener
from services.shared import topics
from services.shared.bus import Message, Record
from services.shared.bus.memory import MemoryBus
from tests.infra import free_port

SSH_LINE = "Accepted password for bob from 192.0.2.7 port 4242 ssh2"


def _settings(**overrides: Any) -> IngestSettings:
    return IngestSettings(**{"ingest_syslog_port": free_port(), "ingest_syslog_flush_seconds": 0.05, **overrides})


@pytest.fixture
async def running() -> AsyncIterator[Any]:
    """Start a listener on 127.0.0.1 over a memory bus; it is stopped (and drained) at the end of the test."""
    started: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    async def start(bus: MemoryBus, settings: IngestSettings) -> SyslogListener:
        listener = SyslogListener(settings, bus)
        stopping = asyncio.Event()
        task = asyncio.create_task(listener.run(stopping))
        started.append((stopping, task))
        await asyncio.wait_for(listener.listening.wait(), 10)
        return listener

    yield start
    for stopping, task in started:
        stopping.set()
        await asyncio.wait_for(task, 30)


async def _events(bus: MemoryBus, expected: int, timeout: float = 20.0) -> list[dict[str, Any]]:
    consumer = bus.consumer("test-reader", [topics.EVENTS])
    await consumer.start()
    received: list[Message] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while len(received) < expected and asyncio.get_running_loop().time() < deadline:
        received.extend(await consumer.getmany(timeout_ms=200, max_records=1000))
    await consumer.commit()
    return [orjson.loads(m.value) for m in received]


async def _logger(*arguments: str) -> None:
    logger = shutil.which("logger")
    assert logger is not None, "util-linux `logger` is required for this test"
    process = await asyncio.create_subprocess_exec(logger, *arguments)
    assert await asyncio.wait_for(process.wait(), 30) == 0


@pytest.mark.parametrize(
    "transport", [["-d"], ["-T"], ["-T", "--octet-count"]], ids=["udp", "tcp-newline", "tcp-octet-count"]
)
async def test_logger_rfc5424_reaches_the_bus(running: Any, transport: list[str]) -> None:
    """`logger --rfc5424` over UDP and TCP (both framings) gives sshd events on siem.events, fields parsed."""
    bus, settings = MemoryBus(capacity=100), _settings()
    await running(bus, settings)
    port = str(settings.ingest_syslog_port)
    await _logger("--rfc5424", "-n", "127.0.0.1", "-P", port, *transport, "-t", "sshd", "-p", "auth.info", SSH_LINE)
    await _logger("--rfc5424", "-n", "127.0.0.1", "-P", port, *transport, "-t", "sshd", "second message")
    first, second = await _events(bus, 2)
    assert first["message"] == SSH_LINE and second["message"] == "second message"
    assert first["raw"]["syslog"]["format"] == "rfc5424"
    assert (first["raw"]["syslog"]["facility"], first["raw"]["syslog"]["severity"]) == (4, 6)
    assert "timeQuality" in first["raw"]["syslog"]["structured_data"]
    assert first["logsource"] == {"product": "linux", "service": "sshd"}  # null fields are left out
    assert (first["event"]["action"], first["event"]["outcome"]) == ("ssh_login", "success")
    assert (first["user"]["name"], first["source"]["ip"], first["source"]["port"]) == ("bob", "192.0.2.7", 4242)
    assert first["host"]["name"] == socket.gethostname()


async def test_tcp_waits_for_a_busy_bus_and_loses_nothing(running: Any) -> None:
    """While the bus is full, a TCP sender is read no further; once it drains, every message arrives once."""
    bus = MemoryBus(capacity=5)
    blocker = bus.consumer("slow-reader", [topics.EVENTS])  # registered: the bus keeps 5 until it commits
    await blocker.start()
    settings = _settings(ingest_syslog_queue_events=2, ingest_syslog_batch_events=2)
    await running(bus, settings)
    reader, writer = await asyncio.open_connection("127.0.0.1", settings.ingest_syslog_port)
    lines = [f"<13>Jan  1 00:00:00 h app: message {i}\n".encode() for i in range(40)]
    writer.write(b"".join(lines))
    await writer.drain()
    await asyncio.sleep(0.5)
    assert bus.backlog(topics.EVENTS) == 5  # full, and nothing was thrown away to make room
    received: list[Message] = []
    deadline = asyncio.get_running_loop().time() + 20
    while len(received) < 40 and asyncio.get_running_loop().time() < deadline:
        received.extend(await blocker.getmany(timeout_ms=200, max_records=3))
        await blocker.commit()
    writer.close()
    assert [orjson.loads(m.value)["message"] for m in received] == [f"message {i}" for i in range(40)]


async def test_udp_overflow_is_counted_not_silent(running: Any) -> None:
    """UDP cannot push back: datagrams finding the queue full are counted in siem_ingest_discarded_total."""
    bus = MemoryBus(capacity=1)
    stuck = bus.consumer("stuck", [topics.EVENTS])  # does not commit until the end: the bus stays full
    await stuck.start()
    await bus.send(topics.EVENTS, Record(value=b"x"))
    settings = _settings(ingest_syslog_queue_events=3)
    await running(bus, settings)

    def discarded() -> float:
        labels = {"source": "syslog", "reason": "queue_full"}
        return REGISTRY.get_sample_value("siem_ingest_discarded_total", labels) or 0.0

    before = discarded()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for i in range(20):
            udp.sendto(f"<13>Jan  1 00:00:00 h app: {i}".encode(), ("127.0.0.1", settings.ingest_syslog_port))
    for _ in range(50):
        if discarded() > before:
            break
        await asyncio.sleep(0.1)
    assert discarded() - before >= 10
    for _ in range(10):  # let the listener's batch through, so it can stop
        await stuck.getmany(timeout_ms=100, max_records=100)
        await stuck.commit()


async def test_unframeable_tcp_stream_is_dead_lettered_and_closed(running: Any) -> None:
    """A frame announcing more than the cap is dead-lettered with its reason and the connection closes."""
    bus, settings = MemoryBus(capacity=100), _settings(ingest_syslog_max_message_bytes=1024)
    await running(bus, settings)
    reader, writer = await asyncio.open_connection("127.0.0.1", settings.ingest_syslog_port)
    writer.write(b"<13>Jan  1 00:00:00 h app: fine\n99999 <13>too long")
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the listener
    writer.close()
    (event,) = await _events(bus, 1)
    assert event["message"] == "fine"
    dlq = bus.consumer("dlq-reader", [topics.DLQ])
    await dlq.start()
    (dead,) = await dlq.getmany(timeout_ms=2000, max_records=10)
    assert (dead.header("siem.error_type"), dead.header("siem.source")) == (b"message_too_large", b"syslog")
    assert dead.value == b"99999 <13>too long"


async def test_stop_flushes_what_was_received() -> None:
    """Stopping the stage publishes every message already taken from a sender before it returns."""
    bus, settings = MemoryBus(capacity=1000), _settings(ingest_syslog_flush_seconds=5.0)
    listener = SyslogListener(settings, bus)
    stopping = asyncio.Event()
    task = asyncio.create_task(listener.run(stopping))
    await asyncio.wait_for(listener.listening.wait(), 10)
    reader, writer = await asyncio.open_connection("127.0.0.1", settings.ingest_syslog_port)
    writer.write(b"".join(f"<13>Jan  1 00:00:00 h app: m{i}\n".encode() for i in range(25)))
    await writer.drain()
    await asyncio.sleep(0.3)
    stopping.set()
    await asyncio.wait_for(task, 30)
    writer.close()
    assert len(await _events(bus, 25, timeout=1)) == 25


def test_only_loopback_and_allowed_networks_may_send() -> None:
    """Syslog has no credentials: loopback may send, other hosts only from the configured networks."""
    closed = SyslogListener(IngestSettings(), MemoryBus(capacity=1))
    assert closed.allowed("127.0.0.1") and closed.allowed("::1") and closed.allowed("::ffff:127.0.0.1")
    assert not closed.allowed("10.1.2.3") and not closed.allowed("not-an-address")
    opened = SyslogListener(IngestSettings(ingest_syslog_allowed_networks=["10.0.0.0/8"]), MemoryBus(capacity=1))
    assert opened.allowed("10.1.2.3") and opened.allowed("::ffff:10.9.9.9") and not opened.allowed("192.0.2.1")
