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
