"""Both correlation stages in one call, in process: what `siem replay` and `siem rules test` run.

The same engines as the services, fed directly instead of through the bus: an event's hits
go straight to the correlation engine, and a correlation's chained hits straight back.
"""

from __future__ import annotations

from collections import deque

from services.correlator.correlate import CorrelationEngine
from services.correlator.engine import DetectionEngine
from services.correlator.enrich import Enricher
from services.correlator.hits import Hit
from services.correlator.ruleset import RuleSet
from services.shared.alert import Alert
from services.shared.envelope import Envelope
from services.shared.event import Event


class InProcessPipeline:
    def __init__(
        self,
        rules: RuleSet,
        lateness_seconds: float,
        enricher: Enricher | None = None,
        suppress_seconds: float = 0,
        *,
        emit_silenced: bool = False,
    ) -> None:
        self.detection = DetectionEngine(rules, enricher, suppress_seconds)
        self.detection.emit_silenced = emit_silenced
        self.correlation = CorrelationEngine(
            rules, lateness_seconds, enricher, suppress_seconds, emit_silenced=emit_silenced
        )
        self.late = 0

    def feed(self, event: Event) -> list[Alert]:
        detected = self.detection.evaluate(Envelope.of(event))
        alerts = list(detected.alerts)
        pending: deque[Hit] = deque(detected.hits)
        while pending:
            result = self.correlation.observe(pending.popleft())
            self.late += result.late
            alerts.extend(result.alerts)
            pending.extend(result.hits)
        return alerts

    def finish(self) -> list[Alert]:
        """The end of the input: windows judged at their close are judged now."""
        alerts: list[Alert] = []
        result = self.correlation.flush()
        pending: deque[Hit] = deque(result.hits)
        alerts.extend(result.alerts)
        while pending:
            step = self.correlation.observe(pending.popleft())
            alerts.extend(step.alerts)
            pending.extend(step.hits)
            if not pending:
                final = self.correlation.flush()
                alerts.extend(final.alerts)
                pending.extend(final.hits)
        return alerts
