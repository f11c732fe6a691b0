"""The webhook receiver's settings: which hosts it serves, their secrets, and the limits it enforces."""

from __future__ import annotations

import ipaddress

from limits import RateLimitItem, parse
from pydantic import Field, SecretStr, model_validator

from services.shared.errors import ConfigError
from services.shared.settings import CommonSettings, secret_values
from services.webhook.providers import PROVIDERS, Keys
from services.webhook.providers.signature import decode_standard_secret

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Where each provider's keys come from, for the error that names the missing one.
SECRET_VARIABLES = {
    "github": "SIEM_WEBHOOK_GITHUB_SECRETS",
    "gitlab": "SIEM_WEBHOOK_GITLAB_TOKENS",
    "gitea": "SIEM_WEBHOOK_GITEA_SECRETS",
    "bitbucket": "SIEM_WEBHOOK_BITBUCKET_SECRETS",
}
_MAX_BODY_BYTES = 3 * 1024 * 1024  # the envelope holds the payload and its file lists: it must stay under Kafka's cap


class WebhookSettings(CommonSettings):
    webhook_port: int = Field(8081, ge=0, le=65535)
    webhook_providers: list[str] = Field(
        default_factory=lambda: list(PROVIDERS),
        description="Hosts served at /webhook/<name>, comma-separated; each needs its secret. Leave one out to "
        "turn it off.",
    )
    webhook_github_secrets: list[SecretStr] = Field(
        default_factory=list, description="GitHub hook secrets (HMAC keys), comma-separated or one per line in _FILE."
    )
    webhook_gitlab_tokens: list[SecretStr] = Field(
        default_factory=list, description="GitLab secret tokens, compared with X-Gitlab-Token."
    )
    webhook_gitlab_signing_tokens: list[SecretStr] = Field(
        default_factory=list, description="GitLab signing tokens (whsec_<base64>): webhook-signature must verify."
    )
    webhook_gitea_secrets: list[SecretStr] = Field(default_factory=list, description="Gitea/Forgejo hook secrets.")
    webhook_bitbucket_secrets: list[SecretStr] = Field(default_factory=list, description="Bitbucket hook secrets.")
    webhook_max_body_bytes: int = Field(
        1024 * 1024, ge=1024, le=_MAX_BODY_BYTES, description="Largest payload read; larger is 413."
    )
    webhook_enqueue_timeout_seconds: float = Field(
        5.0, gt=0, le=8.0, description="Wait for the bus before 503; hosts give up after 10 s, so never late."
    )
    webhook_replay_ttl_seconds: int = Field(
        259_200, ge=1, description="How long a delivery id is remembered (GitHub lets you redeliver for 3 days)."
    )
    webhook_replay_max_entries: int = Field(100_000, ge=1, description="Most delivery ids remembered at once.")
    webhook_signature_tolerance_seconds: int = Field(
        300, ge=1, le=3600, description="How far a signed timestamp (GitLab signing token) may be from now."
    )
    webhook_rate_limit: str = Field("100/second", description="Requests per source IP, e.g. '100/second', '5000/hour'.")
    webhook_trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Proxy networks (CIDR) whose X-Forwarded-For is believed, for the client IP; empty = none.",
    )

    @model_validator(mode="after")
    def _check_webhook(self) -> WebhookSettings:
        unknown = sorted(set(self.webhook_providers) - set(PROVIDERS))
        if unknown:
            raise ConfigError("SIEM_WEBHOOK_PROVIDERS", f"unknown {unknown}; known: {', '.join(PROVIDERS)}")
        try:
            limit = parse(self.webhook_rate_limit)
        except ValueError:
            limit = None
        if limit is None or limit.amount < 1:
            raise ConfigError("SIEM_WEBHOOK_RATE_LIMIT", "expected '<count ≥ 1>/<second|minute|hour|day>'")
        self.trusted_proxy_networks()
        self._signing_keys()
        return self

    @property
    def webhook_configured(self) -> bool:
        """Whether anyone asked for the receiver (a secret or the provider list), and for some provider."""
        secrets = (
            self.webhook_github_secrets,
            self.webhook_gitlab_tokens,
            self.webhook_gitlab_signing_tokens,
            self.webhook_gitea_secrets,
            self.webhook_bitbucket_secrets,
        )
        asked = any(secrets) or "webhook_providers" in self.model_fields_set
        return asked and bool(self.webhook_providers)

    def rate_limit(self) -> RateLimitItem:
        return parse(self.webhook_rate_limit)

    def trusted_proxy_networks(self) -> list[Network]:
        try:
            return [ipaddress.ip_network(cidr, strict=False) for cidr in self.webhook_trusted_proxies]
        except ValueError as exc:
            raise ConfigError("SIEM_WEBHOOK_TRUSTED_PROXIES", str(exc)) from None

    def provider_keys(self) -> dict[str, Keys]:
        """The keys of every enabled provider; a provider without any is a start-up error, never 'accept all'."""
        if not self.webhook_providers:
            raise ConfigError("SIEM_WEBHOOK_PROVIDERS", "empty: the receiver would serve nothing")
        tolerance = float(self.webhook_signature_tolerance_seconds)
        every = {
            "github": Keys(secrets=tuple(secret_values(self.webhook_github_secrets))),
            "gitlab": Keys(
                secrets=self._signing_keys(),
                tokens=tuple(secret_values(self.webhook_gitlab_tokens)),
                tolerance_seconds=tolerance,
            ),
            "gitea": Keys(secrets=tuple(secret_values(self.webhook_gitea_secrets))),
            "bitbucket": Keys(secrets=tuple(secret_values(self.webhook_bitbucket_secrets))),
        }
        for name in self.webhook_providers:
            if not every[name]:
                also = " or SIEM_WEBHOOK_GITLAB_SIGNING_TOKENS" if name == "gitlab" else ""
                raise ConfigError(
                    SECRET_VARIABLES[name],
                    f"required{also} to serve /webhook/{name}; to turn {name} off, leave it out of "
                    "SIEM_WEBHOOK_PROVIDERS",
                )
        return {name: every[name] for name in self.webhook_providers}

    def _signing_keys(self) -> tuple[bytes, ...]:
        keys = []
        for position, secret in enumerate(self.webhook_gitlab_signing_tokens, start=1):
            try:
                keys.append(decode_standard_secret(secret.get_secret_value()))
            except ValueError as exc:
                # The position, never the value: this message is printed and logged.
                raise ConfigError("SIEM_WEBHOOK_GITLAB_SIGNING_TOKENS", f"token {position}: {exc}") from None
        return tuple(keys)
