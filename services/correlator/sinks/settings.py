"""The sinks' settings: which destinations are on, and how delivery retries."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.shared.settings import CommonSettings


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

    def effective_alerts_file(self) -> Path | None:
        if self.alerts_file is not None:
            return self.alerts_file
        return None if self.alertmanager_url else self.var_dir / "alerts.jsonl"

    def effective_events_file(self) -> Path | None:
        # Until the Loki sink lands, enriched events always have this file as their destination.
        return self.events_file if self.events_file is not None else self.var_dir / "events.jsonl"
