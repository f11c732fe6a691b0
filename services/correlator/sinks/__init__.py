"""Alert sinks: each file is one destination, a pure payload builder plus a thin send.

A sink is enabled by its setting (Alertmanager by its URL); without any remote sink the
alerts go to a JSON-lines file and a one-line summary on the console.
"""

from __future__ import annotations

from typing import Protocol

import aiohttp

from services.correlator.settings import SinksSettings
from services.shared.alert import Alert


class AlertSink(Protocol):
    name: str

    async def send(self, alerts: list[Alert]) -> None:
        """Deliver every alert, or raise SinkError (retriable or not)."""
        ...


def build_sinks(settings: SinksSettings, session: aiohttp.ClientSession) -> list[AlertSink]:
    from services.correlator.sinks.alertmanager import AlertmanagerSink
    from services.correlator.sinks.console import ConsoleSink
    from services.correlator.sinks.jsonl import JsonlSink

    sinks: list[AlertSink] = []
    if settings.alertmanager_url:
        sinks.append(AlertmanagerSink(settings.alertmanager_url, session))
    alerts_file = settings.effective_alerts_file()
    if alerts_file is not None:
        sinks.append(JsonlSink(alerts_file))
    if not settings.alertmanager_url:
        sinks.append(ConsoleSink())
    return sinks
