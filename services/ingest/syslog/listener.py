"""The syslog listeners (UDP and TCP on one port) as one stage of ingest: receive, parse, put on the bus.

TCP pushes back: a connection is read only while the queue to the bus has room, so a busy
bus slows the sender instead of losing its messages. UDP cannot push back: a datagram that
finds the queue full is counted (`siem_ingest_discarded_total`) and dropped, which is why the
docs send anything that matters over TCP. Syslog carries no credentials, so only loopback and
`ingest_syslog_allowed_networks` may send at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from services.ingest.metrics import DISCARDED, PARSE_SECONDS, REJECTED, SYSLOG_CONNECTIONS
from services.ingest.publish import STAGE, publish
from services.ingest.settings import IngestSettings, is_loopback
from services.ingest.sources.parsed import Parsed, Rejected, describe
from services.ingest.syslog.framing import Framer
from services.ingest.syslog.line import LineContext, syslog_event
from services.shared.bus import Bus
from services.shared.dlq import dead_letter
from services.shared.errors import ConfigError
from services.shared.metrics import BYTES_RECEIVED

log = structlog.get_logger()

SOURCE = "syslog"
_READ_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class _Message:
    data: bytes
    peer: str
    received: datetime


class SyslogListener:
    """A `Stage`: listens until `stopping` is set, then stops accepting and flushes what it holds."""

    name = "syslog-listener"

    def __init__(self, settings: IngestSettings, bus: Bus) -> None:
        self.settings = settings
        self.bus = bus
        self.zone = ZoneInfo(settings.ingest_syslog_timezone)
        self.networks = [ipaddress.ip_network(n, strict=False) for n in settings.ingest_syslog_allowed_networks]
        self.listening = asyncio.Event()  # set once both sockets are bound (tests wait on it)
        self._queue: asyncio.Queue[_Message] = asyncio.Queue(settings.ingest_syslog_queue_events)
        self._writers: set[asyncio.StreamWriter] = set()

    async def run(self, stopping: asyncio.Event) -> None:
        host, port = self.settings.host, self.settings.ingest_syslog_port
        loop = asyncio.get_running_loop()
        try:
            server = await asyncio.start_server(self._connection, host, port, limit=_READ_BYTES)
            udp, _ = await loop.create_datagram_endpoint(lambda: _Datagrams(self), local_addr=(host, port))
        except OSError as exc:
            raise ConfigError(f"{host}:{port}", f"cannot listen for syslog: {exc.strerror}") from None
        if not self.networks and not is_loopback(host):
            log.warning("syslog_loopback_only", reason="set SIEM_INGEST_SYSLOG_ALLOWED_NETWORKS to accept other hosts")
        self.listening.set()
        log.info("syslog_listening", host=host, port=port)
        batcher = asyncio.create_task(self._batches(stopping))
        try:
            await stopping.wait()
        finally:
            server.close()
            udp.close()
            for writer in list(self._writers):  # what a sender already handed over is still published
                writer.close()
            await batcher  # it drains the queue before it returns
            await server.wait_closed()

    def allowed(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer.split("%")[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return address.is_loopback or any(address in network for network in self.networks)

    def offer(self, message: _Message) -> None:
        """A UDP datagram: queued if there is room, otherwise counted and discarded."""
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            DISCARDED.labels(SOURCE, "queue_full").inc()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = str(writer.get_extra_info("peername", ("?",))[0])
        refusal = None
        if not self.allowed(peer):
            refusal = "forbidden_peer"
        elif len(self._writers) >= self.settings.ingest_syslog_max_connections:
            refusal = "too_many_connections"
        if refusal:
            REJECTED.labels(SOURCE, refusal).inc()
            writer.close()
            return
        self._writers.add(writer)
        SYSLOG_CONNECTIONS.inc()
        framer = Framer(self.settings.ingest_syslog_max_message_bytes)
        try:
            while True:
                try:
                    data = await asyncio.wait_for(
                        reader.read(_READ_BYTES), self.settings.ingest_syslog_idle_timeout_seconds
                    )
                except TimeoutError:
                    break
                if not data:
                    if rest := framer.pending():
                        await self._queue.put(_Message(rest, peer, datetime.now(UTC)))
                    break
                BYTES_RECEIVED.labels(SOURCE).inc(len(data))
                received = datetime.now(UTC)
                for frame in framer.feed(data):
                    await self._queue.put(_Message(frame, peer, received))  # waits while the bus is busy
                if framer.error:
                    await self._unframeable(framer)
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            SYSLOG_CONNECTIONS.dec()
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _unframeable(self, framer: Framer) -> None:
        """The stream is out of step: keep what is left for the record, then hang up."""
        assert framer.error is not None
        kept = framer.pending()[: self.settings.ingest_syslog_max_message_bytes]
        error_type, reason = framer.error.error_type, framer.error.reason
        await dead_letter(self.bus, stage=STAGE, error_type=error_type, reason=reason, original=kept, source=SOURCE)
        REJECTED.labels(SOURCE, error_type).inc()

    async def _batches(self, stopping: asyncio.Event) -> None:
        """Take messages off the queue in batches (by count or age) and publish them, until stopped and empty."""
        limit, wait = self.settings.ingest_syslog_batch_events, self.settings.ingest_syslog_flush_seconds
        while not (stopping.is_set() and self._queue.empty()):
            try:
                batch = [await asyncio.wait_for(self._queue.get(), timeout=wait)]
            except TimeoutError:
                continue
            deadline = time.monotonic() + wait
            while len(batch) < limit and (remaining := deadline - time.monotonic()) > 0:
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), timeout=remaining))
                except TimeoutError:
                    break
            await publish(self.bus, self._parse(batch), SOURCE)

    def _parse(self, batch: list[_Message]) -> Parsed:
        started = time.perf_counter()
        parsed = Parsed()
        for message in batch:
            text = message.data.decode("utf-8", "backslashreplace")
            try:
                context = LineContext(received=message.received, zone=self.zone, host=message.peer)
                parsed.accept(syslog_event(text, context))
            except ValueError as exc:
                parsed.rejected.append(Rejected("invalid_message", describe(exc), message.data))
        PARSE_SECONDS.labels(SOURCE).observe(time.perf_counter() - started)
        return parsed


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, listener: SyslogListener) -> None:
        self.listener = listener

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        peer = str(addr[0])
        if not self.listener.allowed(peer):
            REJECTED.labels(SOURCE, "forbidden_peer").inc()
            return
        BYTES_RECEIVED.labels(SOURCE).inc(len(data))
        message = data[: self.listener.settings.ingest_syslog_max_message_bytes].rstrip(b"\r\n\x00")
        if message.strip():
            self.listener.offer(_Message(message, peer, datetime.now(UTC)))
