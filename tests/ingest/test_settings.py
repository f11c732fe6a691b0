"""Ingest's settings: per-source tokens (also from files), refusing open listeners, checked zones and networks."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.ingest.settings import IngestSettings
from services.shared.errors import ConfigError


def test_source_tokens_from_a_mounted_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIEM_INGEST_K8S_AUDIT_TOKENS_FILE holds one token per line (rotation); they open only that source."""
    secret = tmp_path / "tokens"
    secret.write_text("old-token\nnew-token\n")
    monkeypatch.setenv("SIEM_INGEST_K8S_AUDIT_TOKENS_FILE", str(secret))
    monkeypatch.setenv("SIEM_INGEST_TOKENS", "shared")
    settings = IngestSettings.load()
    assert settings.limits("k8s_audit").tokens == [b"old-token", b"new-token"]
    assert settings.limits("loki").tokens == [b"shared"]  # no tokens of its own: the shared ones
    assert "old-token" not in repr(settings)


def test_per_source_caps() -> None:
    """Each source has its own body and batch caps; /v1/events keeps the historical names."""
    settings = IngestSettings(ingest_max_body_bytes=2048, ingest_k8s_audit_max_batch_events=7)
    assert (settings.limits("generic").max_body_bytes, settings.limits("k8s_audit").max_batch_events) == (2048, 7)
    assert settings.limits("k8s_audit").max_body_bytes == 12 * 1024 * 1024


def test_non_loopback_listener_needs_a_token_for_every_source() -> None:
    """On 0.0.0.0, a source left without any token is a start-up error naming its variable."""
    with pytest.raises(ConfigError) as error:
        IngestSettings.load(host="0.0.0.0", ingest_k8s_audit_tokens=["k"])
    assert "SIEM_INGEST_TOKENS" in str(error.value)
    with pytest.raises(ConfigError) as error:
        IngestSettings.load(host="0.0.0.0", ingest_tokens=[""], ingest_jenkins_tokens=["j"])
    assert "SIEM_INGEST_TOKENS" in str(error.value)  # an empty token is no token
    assert IngestSettings.load(host="0.0.0.0", ingest_tokens=["shared"]).host == "0.0.0.0"


def test_tls_files_go_together(tmp_path: Path) -> None:
    """A certificate without its key, or a client CA without TLS, stops start-up."""
    pem = tmp_path / "x.pem"
    with pytest.raises(ConfigError) as error:
        IngestSettings.load(ingest_tls_cert_file=pem)
    assert error.value.key == "SIEM_INGEST_TLS_KEY_FILE"
    with pytest.raises(ConfigError) as error:
        IngestSettings.load(ingest_tls_client_ca_file=pem)
    assert error.value.key == "SIEM_INGEST_TLS_CERT_FILE"


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"ingest_syslog_timezone": "Mars/Olympus"}, "SIEM_INGEST_SYSLOG_TIMEZONE"),
        ({"ingest_syslog_allowed_networks": ["10.0.0.0/33"]}, "SIEM_INGEST_SYSLOG_ALLOWED_NETWORKS"),
        ({"ingest_syslog_port": 70000}, "SIEM_INGEST_SYSLOG_PORT"),
    ],
)
def test_bad_syslog_settings_name_their_variable(overrides: dict[str, object], key: str) -> None:
    """An unknown zone, a malformed network or a port out of range stops start-up, naming the variable."""
    with pytest.raises(ConfigError) as error:
        IngestSettings.load(**overrides)
    assert error.value.key.startswith(key)
