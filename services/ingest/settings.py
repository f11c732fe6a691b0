"""Ingest's settings: where it listens, what it accepts, who may post."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from limits import parse
from pydantic import Field, SecretStr, field_validator, model_validator

from services.shared.errors import ConfigError
from services.shared.settings import CommonSettings, secret_values

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class EndpointLimits:
    """What one HTTP source accepts: its caps and the tokens that may post to it."""

    max_body_bytes: int
    max_batch_events: int
    tokens: list[bytes]


class IngestSettings(CommonSettings):
    ingest_port: int = Field(8080, ge=0, le=65535)
    ingest_max_body_bytes: int = Field(
        MIB, ge=1024, le=64 * MIB, description="Largest /v1/events body read (after decompression)."
    )
    ingest_max_batch_events: int = Field(10_000, ge=1, description="Most events one /v1/events request may carry.")
    ingest_enqueue_timeout_seconds: float = Field(
        5.0, gt=0, description="How long a request waits for the bus before answering 503."
    )
    ingest_tokens: list[SecretStr] = Field(
        default_factory=list,
        description="Bearer tokens accepted on /v1/events, and on any source without tokens of its own "
        "(comma-separated, or one per line in SIEM_INGEST_TOKENS_FILE; several for rotation).",
    )
    ingest_allow_unauthenticated: bool = Field(
        False, description="Accept posts without a token on a non-loopback address. Never in production."
    )
    ingest_rate_limit: str = Field(
        "100/second",
        description="Requests one token (or, without tokens, one address) may make, e.g. '100/second', "
        "'5000/minute'; empty turns the limit off.",
    )

    ingest_k8s_audit_tokens: list[SecretStr] = Field(
        default_factory=list, description="Tokens of /v1/k8s/audit (the API server's webhook kubeconfig)."
    )
    ingest_k8s_audit_max_body_bytes: int = Field(12 * MIB, ge=1024, le=64 * MIB)
    ingest_k8s_audit_max_batch_events: int = Field(
        5_000, ge=1, description="Most audit events per request (the API server batches 400 by default)."
    )
    ingest_k8s_audit_client_names: list[str] = Field(
        default_factory=list,
        description="Client certificate common names allowed on /v1/k8s/audit over TLS (empty: any the CA signed).",
    )
    ingest_jenkins_tokens: list[SecretStr] = Field(default_factory=list, description="Tokens of /v1/jenkins.")
    ingest_jenkins_max_body_bytes: int = Field(MIB, ge=1024, le=64 * MIB)
    ingest_jenkins_max_batch_events: int = Field(1_000, ge=1)
    ingest_loki_tokens: list[SecretStr] = Field(default_factory=list, description="Tokens of /loki/api/v1/push.")
    ingest_loki_max_body_bytes: int = Field(
        8 * MIB, ge=1024, le=64 * MIB, description="Largest push, compressed and decompressed."
    )
    ingest_loki_max_batch_events: int = Field(50_000, ge=1, description="Most log lines in one push.")

    ingest_tls_cert_file: Path | None = Field(None, description="PEM certificate: ingest's HTTP port speaks TLS.")
    ingest_tls_key_file: Path | None = Field(None, description="PEM private key of ingest_tls_cert_file.")
    ingest_tls_client_ca_file: Path | None = Field(
        None, description="CA whose client certificates authenticate (/v1/k8s/audit: the API server)."
    )

    ingest_syslog_enabled: bool = Field(True, description="Listen for syslog on UDP and TCP.")
    ingest_syslog_port: int = Field(5514, ge=0, le=65535, description="Syslog port, UDP and TCP.")
    ingest_syslog_timezone: str = Field(
        "UTC", description="Zone of RFC 3164 and dpkg.log times, which carry none (IANA name, e.g. Europe/Berlin)."
    )
    ingest_syslog_allowed_networks: list[str] = Field(
        default_factory=list,
        description="Networks (CIDR) whose hosts may send syslog, which has no authentication; "
        "loopback is always allowed, nothing else by default.",
    )
    ingest_syslog_max_message_bytes: int = Field(
        64 * 1024, ge=480, le=MIB, description="Longest syslog message; a longer TCP frame closes the connection."
    )
    ingest_syslog_max_connections: int = Field(1_000, ge=1, description="Open syslog TCP connections at most.")
    ingest_syslog_idle_timeout_seconds: float = Field(
        600.0, gt=0, description="A TCP sender silent this long is disconnected."
    )
    ingest_syslog_batch_events: int = Field(500, ge=1, description="Messages put on the bus in one batch.")
    ingest_syslog_flush_seconds: float = Field(0.2, gt=0, description="Longest a message waits for its batch.")
    ingest_syslog_queue_events: int = Field(
        10_000, ge=1, description="UDP messages held while the bus is busy; more are counted and discarded."
    )

    @field_validator("ingest_rate_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        if value.strip():
            try:
                parse(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a rate such as '100/second' or '5000/minute'") from None
        return value.strip()

    @field_validator("ingest_syslog_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as UTC or Europe/Berlin)") from None
        return value

    @field_validator("ingest_syslog_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not a network in CIDR form (10.0.0.0/8)") from None
        return value

    @model_validator(mode="after")
    def _refuse_open_listener(self) -> IngestSettings:
        if bool(self.ingest_tls_cert_file) != bool(self.ingest_tls_key_file):
            raise ConfigError("SIEM_INGEST_TLS_KEY_FILE", "a TLS certificate and its key go together")
        if self.ingest_tls_client_ca_file and not self.ingest_tls_cert_file:
            raise ConfigError("SIEM_INGEST_TLS_CERT_FILE", "client certificates need ingest to speak TLS")
        # Unauthenticated ingest is only safe where nobody else can reach it.
        if self.ingest_allow_unauthenticated or is_loopback(self.host):
            return self
        for source in ("generic", "k8s_audit", "jenkins", "loki"):
            if not self.limits(source).tokens:
                key = "SIEM_INGEST_TOKENS" if source == "generic" else f"SIEM_INGEST_{source.upper()}_TOKENS"
                raise ConfigError(key, f"required when listening on {self.host} (not loopback)")
        return self

    def limits(self, source: str) -> EndpointLimits:
        """The caps and tokens of one HTTP source; a source without tokens of its own takes ingest_tokens."""
        own = {
            "k8s_audit": (
                self.ingest_k8s_audit_max_body_bytes,
                self.ingest_k8s_audit_max_batch_events,
                self.ingest_k8s_audit_tokens,
            ),
            "jenkins": (
                self.ingest_jenkins_max_body_bytes,
                self.ingest_jenkins_max_batch_events,
                self.ingest_jenkins_tokens,
            ),
            "loki": (self.ingest_loki_max_body_bytes, self.ingest_loki_max_batch_events, self.ingest_loki_tokens),
        }
        body, batch, tokens = own.get(source, (self.ingest_max_body_bytes, self.ingest_max_batch_events, []))
        return EndpointLimits(body, batch, secret_values(tokens) or secret_values(self.ingest_tokens))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
