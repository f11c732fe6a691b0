"""Ingest's settings: where it listens, what it accepts, who may post."""

from __future__ import annotations

import ipaddress

from pydantic import Field, SecretStr, model_validator

from services.shared.errors import ConfigError
from services.shared.settings import CommonSettings


class IngestSettings(CommonSettings):
    ingest_port: int = Field(8080, ge=0, le=65535)
    ingest_max_body_bytes: int = Field(
        1024 * 1024, ge=1024, le=64 * 1024 * 1024, description="Largest request body read (after decompression)."
    )
    ingest_max_batch_events: int = Field(10_000, ge=1, description="Most events one request may carry.")
    ingest_enqueue_timeout_seconds: float = Field(
        5.0, gt=0, description="How long a request waits for the bus before answering 503."
    )
    ingest_tokens: list[SecretStr] = Field(
        default_factory=list, description="Bearer tokens accepted on /v1/*, comma-separated (several for rotation)."
    )
    ingest_allow_unauthenticated: bool = Field(
        False, description="Accept posts without a token on a non-loopback address. Never in production."
    )

    @model_validator(mode="after")
    def _refuse_open_listener(self) -> IngestSettings:
        # Unauthenticated ingest is only safe where nobody else can reach it.
        if not self.ingest_tokens and not self.ingest_allow_unauthenticated and not _is_loopback(self.host):
            raise ConfigError("SIEM_INGEST_TOKENS", f"required when listening on {self.host} (not loopback)")
        return self


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
