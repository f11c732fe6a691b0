"""Wiring for `siem run ingest` (and ingest's part of `siem run all`)."""

from __future__ import annotations

from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from services.ingest.syslog.listener import SyslogListener
from services.ingest.tls import TlsSite, server_context
from services.shared.runtime import Service


def wire(settings: IngestSettings, service: Service) -> None:
    app = create_app(settings, service.bus, service.readiness)
    if settings.ingest_tls_cert_file:
        # The runtime's listeners speak plain HTTP; a TLS site runs as a stage of its own.
        service.stages.append(TlsSite(app, settings.host, settings.ingest_port, server_context(settings)))
    else:
        service.listeners.append((app, settings.ingest_port))
    if settings.ingest_syslog_enabled:
        service.stages.append(SyslogListener(settings, service.bus))


if __name__ == "__main__":
    from services.cli import main

    raise SystemExit(main(["run", "ingest"]))
