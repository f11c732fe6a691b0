"""Wiring for `siem run correlator` (and the correlator's part of `siem run all`)."""

from __future__ import annotations

import structlog

from services.correlator.correlate import CorrelationEngine
from services.correlator.engine import DetectionEngine
from services.correlator.enrich import Enricher
from services.correlator.reload import RuleReloader, report
from services.correlator.rules.config import load_rules_config
from services.correlator.ruleset import RuleSet
from services.correlator.settings import CorrelatorSettings
from services.correlator.stage import CorrelationHandler, DetectionHandler, correlation_stage, detection_stage
from services.shared.http import create_probe_app
from services.shared.runtime import Service

log = structlog.get_logger()


def build_engines(settings: CorrelatorSettings) -> tuple[RuleSet, DetectionEngine, CorrelationEngine]:
    config = load_rules_config(settings.rules_config)
    rules = RuleSet.load(settings.rules_dirs, config)
    enricher = Enricher.from_file(settings.assets_file)
    detection = DetectionEngine(rules, enricher, settings.suppress_seconds)
    correlation = CorrelationEngine(rules, settings.allowed_lateness_seconds, enricher, settings.suppress_seconds)
    return rules, detection, correlation


def wire(settings: CorrelatorSettings, service: Service, *, drain_on_stop: bool) -> None:
    rules, detection, correlation = build_engines(settings)
    report(rules)
    log.info(
        "rules_loaded",
        detections=len(rules.detections),
        correlations=len(rules.correlations),
        refused=len(rules.errors),
        files=rules.files,
    )
    detect = DetectionHandler(service.bus, detection)
    correlate = CorrelationHandler(service.bus, correlation)

    def apply(fresh: RuleSet) -> None:
        detection.replace_rules(fresh)
        correlation.replace_rules(fresh)

    max_records = settings.consumer_max_records
    rewind = rules.longest_timespan_seconds + settings.allowed_lateness_seconds
    service.stages.append(detection_stage(service.bus, detect, max_records=max_records, drain_on_stop=drain_on_stop))
    service.stages.append(
        correlation_stage(
            service.bus, correlate, max_records=max_records, drain_on_stop=drain_on_stop, rewind_seconds=rewind
        )
    )
    config = load_rules_config(settings.rules_config)
    service.stages.append(RuleReloader(rules, settings.rules_dirs, config, apply, watch=settings.rules_reload))
    service.listeners.append((create_probe_app(service.readiness), settings.correlator_port))


if __name__ == "__main__":
    from services.cli import main

    raise SystemExit(main(["run", "correlator"]))
