"""Wiring for `siem run correlator` (and the correlator's part of `siem run all`)."""

from __future__ import annotations

import structlog

from services.correlator.engine import DetectionEngine
from services.correlator.rules.loader import load_rules
from services.correlator.settings import CorrelatorSettings
from services.correlator.stage import detection_stage
from services.shared.http import create_probe_app
from services.shared.runtime import Service

log = structlog.get_logger()


def wire(settings: CorrelatorSettings, service: Service, *, drain_on_stop: bool) -> None:
    loaded = load_rules(settings.rules_dirs)
    for error in loaded.errors:
        log.error("rule_refused", location=error.location, reason=error.reason)
    log.info("rules_loaded", rules=len(loaded.rules), refused=len(loaded.errors), files=loaded.files)
    engine = DetectionEngine(loaded.rules)
    service.stages.append(
        detection_stage(service.bus, engine, max_records=settings.consumer_max_records, drain_on_stop=drain_on_stop)
    )
    service.listeners.append((create_probe_app(service.readiness), settings.correlator_port))


if __name__ == "__main__":
    from services.cli import main

    raise SystemExit(main(["run", "correlator"]))
