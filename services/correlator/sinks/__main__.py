"""Wiring for `siem run sinks` (and the sinks' part of `siem run all`)."""

from __future__ import annotations

from services.correlator.sinks.delivery import alert_delivery, event_delivery
from services.correlator.sinks.settings import SinksSettings
from services.shared.http import create_probe_app
from services.shared.runtime import Service


def wire(settings: SinksSettings, service: Service, *, drain_on_stop: bool) -> None:
    # Alerts first: on stop, they are the stream that must not wait behind a slow event sink.
    service.stages.append(alert_delivery(settings, service.bus, drain_on_stop=drain_on_stop))
    service.stages.append(event_delivery(settings, service.bus, drain_on_stop=drain_on_stop))
    service.listeners.append((create_probe_app(service.readiness), settings.sinks_port))


if __name__ == "__main__":
    from services.cli import main

    raise SystemExit(main(["run", "sinks"]))
