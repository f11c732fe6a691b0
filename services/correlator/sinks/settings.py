"""The sinks' settings: which destinations are on, and how delivery batches, retries and resends."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from services.shared.errors import ConfigError
from services.shared.settings import CommonSettings

# Stream labels the Loki sink always derives itself (docs/sinks/loki-labels.md); event labels may not shadow them.
CORE_LOKI_LABELS = frozenset({"module", "dataset", "level", "product", "service"})
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


class SinksSettings(CommonSettings):
    sinks_port: int = Field(8083, ge=0, le=65535)
    alertmanager_url: list[str] = Field(
        default_factory=list,
        description="Alertmanager base URLs, comma-separated; every one gets every alert (HA peers).",
    )
    alerts_file: Path | None = Field(
        None, description="JSON-lines file of alerts; defaults to <var_dir>/alerts.jsonl without Alertmanager."
    )
    events_file: Path | None = Field(
        None, description="JSON-lines file of enriched events; defaults to <var_dir>/events.jsonl without Loki."
    )
    sink_timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one delivery request.")
    sink_max_backoff_seconds: float = Field(30.0, gt=0, description="Longest wait between delivery retries.")

    # Alertmanager: alerts stay active for a while, are re-posted while active and for a while once resolved.
    alertmanager_resend_seconds: float = Field(
        60.0, gt=0, lt=300, description="Re-post interval of tracked alerts; below Alertmanager's resolve_timeout (5m)."
    )
    alertmanager_resolved_resend_seconds: float = Field(
        300.0, ge=0, description="How long a resolved alert keeps being re-posted as resolved."
    )
    alert_active_seconds: float = Field(
        900.0, gt=0, description="An alert resolves this long after its latest occurrence reached the sink."
    )
    alertmanager_max_tracked_alerts: int = Field(
        10_000, ge=1, description="Alerts kept for resending; past it the one due to resolve first is dropped."
    )
    grafana_url: str | None = Field(None, description="Grafana base URL: alerts link to Explore on their hunt query.")
    grafana_loki_datasource_uid: str = Field("loki", description="UID of the Loki data source in Grafana.")
    runbook_url_template: str | None = Field(
        None, description="Runbook link per rule, {rule_id} is replaced (https://wiki/runbooks/{rule_id})."
    )

    # Loki: batches by size and time, Loki's own limits respected.
    loki_format: Literal["protobuf", "json"] = Field(
        "protobuf", description="Push body: snappy-compressed protobuf (Loki's fastest) or gzip-compressed JSON."
    )
    loki_batch_max_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        le=4 * 1024 * 1024,
        description="Bytes of one push request (lines, metadata, framing); Loki's gRPC limit is 4 MiB by default.",
    )
    loki_batch_wait_seconds: float = Field(
        1.0, ge=0, le=60, description="Longest wait for a push to fill up before it is sent anyway."
    )
    loki_max_line_bytes: int = Field(
        256 * 1024, ge=1024, description="Loki's max_line_size: longer lines are truncated and marked, not refused."
    )
    loki_event_labels: list[str] = Field(
        default_factory=lambda: ["env", "cluster"],
        description="Event `labels` copied to stream labels, comma-separated (keep them low-cardinality).",
    )
    loki_structured_metadata: bool = Field(
        True, description="Send event_id and rule_ids as structured metadata (Loki 3; off for older schemas)."
    )

    @field_validator("loki_event_labels")
    @classmethod
    def _few_valid_label_names(cls, names: list[str]) -> list[str]:
        if len(names) > 5:
            raise ValueError("at most 5 event labels: every one multiplies Loki's streams")
        for name in names:
            if not _LABEL_NAME.fullmatch(name) or name in CORE_LOKI_LABELS:
                raise ValueError(f"{name!r} is not a usable label name (or shadows a core label)")
        return names

    @model_validator(mode="after")
    def _one_loki_auth(self) -> SinksSettings:
        if self.loki_bearer_token is not None and (self.loki_username or self.loki_password is not None):
            raise ConfigError("SIEM_LOKI_BEARER_TOKEN", "set either a bearer token or basic auth for Loki, not both")
        if (self.loki_username is None) != (self.loki_password is None):
            raise ConfigError("SIEM_LOKI_USERNAME", "basic auth for Loki needs both SIEM_LOKI_USERNAME and _PASSWORD")
        return self

    def effective_alerts_file(self) -> Path | None:
        if self.alerts_file is not None:
            return self.alerts_file
        return None if self.alertmanager_url else self.var_dir / "alerts.jsonl"

    def effective_events_file(self) -> Path | None:
        if self.events_file is not None:
            return self.events_file
        return None if self.loki_url else self.var_dir / "events.jsonl"
