"""Sinks: each file is one destination, a pure payload builder plus a thin send.

Two streams leave the correlator: alerts (`siem.alerts`: Alertmanager, a JSON-lines file,
the console) and enriched events (`siem.enriched`: Loki, or a JSON-lines file). Each is
delivered by its own stage on its own consumer group, so an outage of one destination
never stalls the other. A sink is enabled by its setting (Alertmanager and Loki by their
URL); with no remote sink, a stream goes to a JSON-lines file under `var/`.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, TypeVar, runtime_checkable

import aiohttp

from services.correlator.sinks.alert_record import AlertRecord, alert_json
from services.correlator.sinks.record import EnrichedRecord, one_line
from services.correlator.sinks.settings import SinksSettings

T = TypeVar("T")


class Sink(Protocol[T]):
    name: str

    async def send(self, records: list[T]) -> None:
        """Deliver every record, or raise SinkError (retriable or not)."""
        ...


@runtime_checkable
class Maintained(Protocol):
    """A sink with work of its own between deliveries (Alertmanager re-posts), run beside its stage."""

    async def maintain(self, stopping: asyncio.Event) -> None: ...


def build_alert_sinks(settings: SinksSettings, session: aiohttp.ClientSession) -> list[Sink[AlertRecord]]:
    from services.correlator.sinks.alertmanager import AlertmanagerSink
    from services.correlator.sinks.console import ConsoleSink
    from services.correlator.sinks.jsonl import JsonlSink

    sinks: list[Sink[AlertRecord]] = []
    if settings.alertmanager_url:
        sinks.append(AlertmanagerSink(settings, session))
    alerts_file = settings.effective_alerts_file()
    if alerts_file is not None:
        sinks.append(JsonlSink[AlertRecord](alerts_file, alert_json, name="alerts_file"))
    if not settings.alertmanager_url:
        sinks.append(ConsoleSink())
    return sinks


def build_event_sinks(settings: SinksSettings, session: aiohttp.ClientSession) -> list[Sink[EnrichedRecord]]:
    from services.correlator.sinks.jsonl import JsonlSink
    from services.correlator.sinks.loki import LokiSink

    sinks: list[Sink[EnrichedRecord]] = []
    if settings.loki_url:
        sinks.append(LokiSink(settings, session))
    events_file = settings.effective_events_file()
    if events_file is not None:
        sinks.append(JsonlSink[EnrichedRecord](events_file, one_line, name="events_file"))
    return sinks
