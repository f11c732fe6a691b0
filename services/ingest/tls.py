"""Ingest's HTTP port over TLS, optionally verifying client certificates (the Kubernetes API server's).

The shared runtime serves plain HTTP listeners, so the TLS site is a stage of its own: it starts
with the service and, on stop, stops accepting and lets requests in flight finish.
"""

from __future__ import annotations

import asyncio
import ssl

from aiohttp import web

from services.ingest.settings import IngestSettings
from services.shared.errors import ConfigError

SHUTDOWN_TIMEOUT_SECONDS = 25.0


def server_context(settings: IngestSettings) -> ssl.SSLContext:
    """TLS 1.2+; with a client CA, a certificate is asked for (optional: tokens still work without one)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(settings.ingest_tls_cert_file), str(settings.ingest_tls_key_file))
        if settings.ingest_tls_client_ca_file:
            context.load_verify_locations(cafile=str(settings.ingest_tls_client_ca_file))
            context.verify_mode = ssl.CERT_OPTIONAL
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError("SIEM_INGEST_TLS_CERT_FILE", f"cannot load the TLS files: {exc}") from None
    return context


class TlsSite:
    """A `Stage` serving `app` over TLS on host:port until stopped."""

    name = "ingest-https"

    def __init__(self, app: web.Application, host: str, port: int, context: ssl.SSLContext) -> None:
        self.app, self.host, self.port, self.context = app, host, port, context
        self.listening = asyncio.Event()

    async def run(self, stopping: asyncio.Event) -> None:
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port, ssl_context=self.context).start()
        except OSError as exc:
            await runner.cleanup()
            raise ConfigError(f"{self.host}:{self.port}", f"cannot listen: {exc.strerror}") from None
        self.listening.set()
        try:
            await stopping.wait()
        finally:
            await runner.cleanup()
