"""Wiring for `siem run sinks` (and the sinks' part of `siem run all`)."""

from __future__ import annotations

from services.correlator.settings import SinksSettings
from services.correlator.sinks.delivery import DeliveryStage
from services.shared.http import create_probe_app
from services.shared.runtime import Service


def wire(settings: SinksSettings, service: Service, *, drain_on_stop: bool) -> None:
    service.stages.append(DeliveryStage(settings, service.bus, drain_on_stop=drain_on_stop))
    service.listeners.append((create_probe_app(service.readiness), settings.sinks_port))


if __name__ == "__main__":
    from services.cli import main

    raise SystemExit(main(["run", "sinks"]))
