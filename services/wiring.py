"""Builds what `siem run STAGE` starts: the settings, the bus, and each stage's listeners and workers."""

from __future__ import annotations

from pathlib import Path

from services.correlator.settings import CorrelatorSettings
from services.correlator.sinks.settings import SinksSettings
from services.ingest.settings import IngestSettings
from services.shared.bus import create_bus
from services.shared.dlq_file import dead_letter_file_stage
from services.shared.http import Readiness
from services.shared.logging import configure_logging
from services.shared.runtime import Service
from services.shared.settings import CommonSettings
from services.webhook.settings import WebhookSettings


class EmbeddedSettings(IngestSettings, WebhookSettings, CorrelatorSettings, SinksSettings):
    """Every stage's settings at once, for `siem run all`."""


_SETTINGS: dict[str, type[CommonSettings]] = {
    "ingest": IngestSettings,
    "webhook": WebhookSettings,
    "correlator": CorrelatorSettings,
    "sinks": SinksSettings,
    "all": EmbeddedSettings,
}


def build_service(stage: str, rules: list[Path] | None = None) -> tuple[Service, CommonSettings]:
    overrides = {"rules_dirs": rules} if rules and stage in ("correlator", "all") else {}
    settings = _SETTINGS[stage].load(**overrides)
    configure_logging(settings, f"siem-{stage}")
    if stage != "all" and not settings.kafka_bootstrap:
        from services.shared.errors import ConfigError

        raise ConfigError(
            "SIEM_KAFKA_BOOTSTRAP", f"'siem run {stage}' runs one stage and needs Kafka; use 'all' without it"
        )
    bus = create_bus(settings)
    service = Service(name=stage, bus=bus, readiness=Readiness())
    # Nothing outlives the process on the memory bus, so its stages drain it on stop.
    drain = not settings.kafka_bootstrap
    if stage in ("ingest", "all"):
        from services.ingest.__main__ import wire as wire_ingest

        wire_ingest(settings, service)
    if stage in ("webhook", "all"):
        from services.webhook.__main__ import wire as wire_webhook

        wire_webhook(settings, service, only_if_configured=stage == "all")
    if stage in ("correlator", "all"):
        from services.correlator.__main__ import wire as wire_correlator

        wire_correlator(settings, service, drain_on_stop=drain)
    if stage in ("sinks", "all"):
        from services.correlator.sinks.__main__ import wire as wire_sinks

        wire_sinks(settings, service, drain_on_stop=drain)
    if drain:
        service.stages.append(
            dead_letter_file_stage(bus, settings.var_dir / "dlq.jsonl", max_records=settings.consumer_max_records)
        )
    return service, settings
