"""Ingest over TLS: the Kubernetes API server may authenticate with a client certificate instead of a token.

Certificates are made for the test with the `openssl` command (a CA, a server certificate for
127.0.0.1, client certificates signed by it and by a stranger CA), the way an operator makes them.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest

from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from services.ingest.tls import TlsSite, server_context
from services.shared.bus.memory import MemoryBus
from services.shared.http import Readiness
from tests.infra import free_port

AUDIT = orjson.dumps({"kind": "Event", "auditID": "t-1", "stage": "ResponseComplete", "verb": "get", "user": {}})


def _openssl(*arguments: str | Path) -> None:
    openssl = shutil.which("openssl")
    assert openssl is not None, "the openssl command is required to make test certificates"
    subprocess.run([openssl, *map(str, arguments)], check=True, capture_output=True, timeout=60)


def _certificate(folder: Path, name: str, subject: str, ca: str | None, server: bool = False) -> None:
    """`name`.key/.crt signed by `ca` (self-signed when None)."""
    key, crt = folder / f"{name}.key", folder / f"{name}.crt"
    if ca is None:
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                 "-subj", subject, "-keyout", key, "-out", crt)  # fmt: skip
        return
    csr, extensions = folder / f"{name}.csr", folder / f"{name}.ext"
    usage = "serverAuth\nsubjectAltName=IP:127.0.0.1" if server else "clientAuth"
    extensions.write_text(f"extendedKeyUsage={usage}\n")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", subject,
             "-keyout", key, "-out", csr)  # fmt: skip
    _openssl("x509", "-req", "-in", csr, "-CA", folder / f"{ca}.crt", "-CAkey", folder / f"{ca}.key",
             "-CAcreateserial", "-days", "2", "-extfile", extensions, "-out", crt)  # fmt: skip


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tls")
    _certificate(folder, "ca", "/CN=siem-test-ca", None)
    _certificate(folder, "stranger-ca", "/CN=stranger-ca", None)
    _certificate(folder, "server", "/CN=ingest", "ca", server=True)
    _certificate(folder, "apiserver", "/CN=kube-apiserver", "ca")
    _certificate(folder, "other", "/CN=someone-else", "ca")
    _certificate(folder, "forged", "/CN=kube-apiserver", "stranger-ca")
    return folder


@pytest.fixture
async def https(certificates: Path) -> AsyncIterator[str]:
    """Ingest on https://127.0.0.1:PORT, trusting client certificates of the test CA named kube-apiserver."""
    settings = IngestSettings(
        ingest_port=free_port(),
        ingest_tokens=["generic-token"],
        ingest_tls_cert_file=certificates / "server.crt",
        ingest_tls_key_file=certificates / "server.key",
        ingest_tls_client_ca_file=certificates / "ca.crt",
        ingest_k8s_audit_client_names=["kube-apiserver"],
    )
    site = TlsSite(create_app(settings, MemoryBus(capacity=100), Readiness()), settings.host, settings.ingest_port,
                   server_context(settings))  # fmt: skip
    stopping = asyncio.Event()
    task = asyncio.create_task(site.run(stopping))
    await asyncio.wait_for(site.listening.wait(), 10)
    yield f"https://127.0.0.1:{settings.ingest_port}"
    stopping.set()
    await asyncio.wait_for(task, 30)


async def _post(url: str, certificates: Path, client: str | None, path: str = "/v1/k8s/audit") -> int:
    context = ssl.create_default_context(cafile=str(certificates / "ca.crt"))
    if client:
        context.load_cert_chain(str(certificates / f"{client}.crt"), str(certificates / f"{client}.key"))
    async with aiohttp.ClientSession() as session, session.post(url + path, data=AUDIT, ssl=context) as response:
        return response.status


async def test_api_server_certificate_authenticates_the_audit_webhook(https: str, certificates: Path) -> None:
    """A client certificate from the configured CA with an allowed name is accepted on /v1/k8s/audit."""
    assert await _post(https, certificates, "apiserver") == 200


async def test_missing_or_other_certificate_is_refused(https: str, certificates: Path) -> None:
    """No certificate, or one of the CA's with another name, is 401; a certificate never opens /v1/events."""
    assert await _post(https, certificates, None) == 401
    assert await _post(https, certificates, "other") == 401
    assert await _post(https, certificates, "apiserver", path="/v1/events") == 401


async def test_certificate_from_another_ca_fails_the_handshake(https: str, certificates: Path) -> None:
    """A certificate with the right name but signed by a stranger CA does not get past TLS."""
    with pytest.raises(aiohttp.ClientError):
        await _post(https, certificates, "forged")
