"""Wiring for `siem run webhook` (and the webhook listener inside `siem run all`)."""

from __future__ import annotations

import structlog

from services.shared.runtime import Service
from services.webhook.app import create_app
from services.webhook.settings import WebhookSettings

log = structlog.get_logger()


def wire(settings: WebhookSettings, service: Service, *, only_if_configured: bool = False) -> None:
    """Add the receiver's listener; embedded mode (`only_if_configured`) skips it until a secret is set."""
    if only_if_configured and not settings.webhook_configured:
        log.info("webhook_off", reason="no SIEM_WEBHOOK_* secret is set")
        return
    service.listeners.append((create_app(settings, service.bus, service.readiness), settings.webhook_port))
    log.info("webhook_on", port=settings.webhook_port, providers=settings.webhook_providers)


if __name__ == "__main__":
    from services.cli import main

    raise SystemExit(main(["run", "webhook"]))
