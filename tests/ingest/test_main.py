"""`siem run ingest` wiring: the HTTP listener, the syslog listeners as a stage, TLS as a stage of its own."""

from __future__ import annotations

import subprocess
from pathlib import Path

from services.ingest.__main__ import wire
from services.ingest.settings import IngestSettings
from services.ingest.syslog.listener import SyslogListener
from services.ingest.tls import TlsSite
from services.shared.bus.memory import MemoryBus
from services.shared.http import Readiness
from services.shared.runtime import Service


def _service() -> Service:
    return Service(name="ingest", bus=MemoryBus(capacity=10), readiness=Readiness())


def test_plain_http_and_syslog_by_default() -> None:
    """By default ingest serves HTTP on ingest_port and runs the syslog listeners as a stage."""
    service = _service()
    wire(IngestSettings(ingest_port=18080), service)
    assert [port for _, port in service.listeners] == [18080]
    assert [type(stage) for stage in service.stages] == [SyslogListener]


def test_tls_site_replaces_the_plain_listener_and_syslog_can_be_off(tmp_path: Path) -> None:
    """With a certificate the HTTP port is served by the TLS stage; syslog can be turned off."""
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"

    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
         "-subj", "/CN=ingest", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    service = _service()
    wire(IngestSettings(ingest_tls_cert_file=cert, ingest_tls_key_file=key, ingest_syslog_enabled=False), service)
    assert service.listeners == [] and [type(stage) for stage in service.stages] == [TlsSite]
