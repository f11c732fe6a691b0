"""Wiring for `siem run ingest` (and ingest's part of `siem run all`)."""

from __future__ import annotations

from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from services.shared.runtime import Service


def wire(settings: IngestSettings, service: Service) -> None:
    service.listeners.append((create_app(settings, service.bus, service.readiness), settings.ingest_port))


if __name__ == "__main__":
    from services.cli import main

    raise SystemExit(main(["run", "ingest"]))
