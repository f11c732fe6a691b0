"""The correlator's settings: where its rules are and where it answers probes."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.shared.settings import CommonSettings


class CorrelatorSettings(CommonSettings):
    correlator_port: int = Field(8082, ge=0, le=65535)
    rules_dirs: list[Path] = Field(
        default_factory=lambda: [Path("rules")], description="Folders of Sigma rule files, colon-separated."
    )
    rules_config: Path | None = Field(None, description="YAML of per-logsource field aliases and placeholders.")
    rules_reload: bool = Field(True, description="Reload rules when their files change (SIGHUP always does).")
    assets_file: Path | None = Field(None, description="CSV of assets (column `key` + owner, team…) for alerts.")
    suppress_seconds: float = Field(0, ge=0, description="Quiet period per rule and group after an alert; 0 = off.")
    allowed_lateness_seconds: float = Field(
        30, ge=0, description="How far behind the newest event time a hit may arrive and still count."
    )
