"""The receiver's settings: a host without a secret stops the start, secrets rotate from files, nothing leaks."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.shared.bus.memory import MemoryBus
from services.shared.errors import ConfigError
from services.shared.http import Readiness
from services.shared.runtime import Service
from services.webhook.__main__ import wire
from services.webhook.app import create_app
from services.webhook.settings import WebhookSettings


def _service() -> Service:
    return Service(name="test", bus=MemoryBus(capacity=10), readiness=Readiness())


def test_a_provider_without_a_secret_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no secret for an enabled host, building the app fails naming the variable to set."""
    monkeypatch.setenv("SIEM_WEBHOOK_GITHUB_SECRETS", "s1")
    monkeypatch.setenv("SIEM_WEBHOOK_GITEA_SECRETS", "s2")
    monkeypatch.setenv("SIEM_WEBHOOK_BITBUCKET_SECRETS", "s3")
    with pytest.raises(ConfigError) as error:
        create_app(WebhookSettings.load(), MemoryBus(capacity=10), Readiness())
    assert error.value.key == "SIEM_WEBHOOK_GITLAB_TOKENS"
    assert "SIEM_WEBHOOK_PROVIDERS" in error.value.reason


def test_a_provider_left_out_needs_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """Turning hosts off explicitly is the only way to run without their secrets."""
    monkeypatch.setenv("SIEM_WEBHOOK_PROVIDERS", "github")
    monkeypatch.setenv("SIEM_WEBHOOK_GITHUB_SECRETS", "s1")
    app = create_app(WebhookSettings.load(), MemoryBus(capacity=10), Readiness())
    paths = {resource.canonical for resource in app.router.resources()}
    assert "/webhook/github" in paths and "/webhook/gitlab" not in paths


def test_secrets_rotate_from_a_mounted_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """SIEM_WEBHOOK_GITHUB_SECRETS_FILE holds one secret per line; every one of them is accepted."""
    secrets = tmp_path / "github-secrets"
    secrets.write_text("old-secret\nnew-secret\n")
    monkeypatch.setenv("SIEM_WEBHOOK_PROVIDERS", "github")
    monkeypatch.setenv("SIEM_WEBHOOK_GITHUB_SECRETS_FILE", str(secrets))
    keys = WebhookSettings.load().provider_keys()
    assert keys["github"].secrets == (b"old-secret", b"new-secret")


def test_secrets_never_show_in_a_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings' repr masks every secret and token."""
    monkeypatch.setenv("SIEM_WEBHOOK_GITHUB_SECRETS", "hunter2-github")
    monkeypatch.setenv("SIEM_WEBHOOK_GITLAB_TOKENS", "hunter2-gitlab")
    assert "hunter2" not in repr(WebhookSettings.load())


def test_a_malformed_signing_token_is_named_without_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """A GitLab signing token that is not whsec_<base64> fails at start, by position, never echoed."""
    monkeypatch.setenv("SIEM_WEBHOOK_GITLAB_SIGNING_TOKENS", "whsec_AAAA,whsec_not*base64")
    with pytest.raises(ConfigError) as error:
        WebhookSettings.load()
    assert error.value.key == "SIEM_WEBHOOK_GITLAB_SIGNING_TOKENS"
    assert "token 2" in error.value.reason and "not*base64" not in str(error.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SIEM_WEBHOOK_PROVIDERS", "github,svn"),
        ("SIEM_WEBHOOK_RATE_LIMIT", "lots"),
        ("SIEM_WEBHOOK_RATE_LIMIT", "0/second"),
        ("SIEM_WEBHOOK_TRUSTED_PROXIES", "10.0.0.0/33"),
    ],
)
def test_bad_values_name_their_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    """An unknown host, an unreadable rate or a bad proxy network is a ConfigError naming the variable."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as error:
        WebhookSettings.load()
    assert error.value.key == variable


def test_embedded_mode_starts_the_receiver_only_once_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    """`siem run all` adds no webhook listener without secrets, and one on SIEM_WEBHOOK_PORT with them."""
    quiet = _service()
    wire(WebhookSettings.load(), quiet, only_if_configured=True)
    assert quiet.listeners == []
    monkeypatch.setenv("SIEM_WEBHOOK_PROVIDERS", "gitea")
    monkeypatch.setenv("SIEM_WEBHOOK_GITEA_SECRETS", "s")
    monkeypatch.setenv("SIEM_WEBHOOK_PORT", "18081")
    configured = _service()
    wire(WebhookSettings.load(), configured, only_if_configured=True)
    assert [port for _, port in configured.listeners] == [18081]


def test_the_webhook_stage_alone_refuses_to_start_unconfigured(monkeypatch: pytest.MonkeyPatch) -> None:
    """`siem run webhook` without any secret, or with no provider at all, is a ConfigError."""
    with pytest.raises(ConfigError):
        wire(WebhookSettings.load(), _service())
    monkeypatch.setenv("SIEM_WEBHOOK_PROVIDERS", "")
    with pytest.raises(ConfigError) as error:
        wire(WebhookSettings.load(), _service())
    assert error.value.key == "SIEM_WEBHOOK_PROVIDERS"
    embedded = _service()
    wire(WebhookSettings.load(), embedded, only_if_configured=True)
    assert embedded.listeners == []
