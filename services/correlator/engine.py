"""Stage 1, detection: every rule the index finds for an event is tried; a match is an alert and/or a hit.

A match becomes an alert unless the rule only feeds correlations (Sigma `generate: false`),
and a hit for every correlation it feeds, carrying that correlation's group-by values.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from prometheus_client import Counter

from services.correlator.enrich import Enricher
from services.correlator.event_alert import AlertedEvent, AlertTemplate, EventAlert
from services.correlator.hits import Hit
from services.correlator.metrics import (
    HITS_WITHOUT_GROUP,
    RULE_EVALUATIONS,
    RULE_FAILURES,
    RULE_MATCHES,
    RULE_SECONDS,
)
from services.correlator.rules.compiler import CompiledRule
from services.correlator.rules.correlation import CorrelationRule
from services.correlator.ruleset import RuleSet
from services.correlator.suppression import Suppressor, alerts_counter
from services.shared.alert import Alert, RuleRef, Scalar
from services.shared.envelope import Envelope, FieldReader, InvalidEnvelope
from services.shared.metrics import ERRORS

log = structlog.get_logger()

TIMING_SAMPLE = 16  # siem_rule_evaluation_seconds_total is estimated from one event in this many
_MAX_TRIED = 1024  # candidates lists whose evaluations are counted together before being added up


@dataclass
class Detection:
    """What one event produced."""

    matches: list[RuleRef] = field(default_factory=list)
    raised: list[EventAlert] = field(default_factory=list)  # the alerts, as stage 1 writes them
    hits: list[Hit] = field(default_factory=list)
    alerted: AlertedEvent | None = None  # the event as its alerts share it, made at its first alert

    @property
    def alerts(self) -> list[Alert]:
        """The alerts raised, as `Alert` models: built when asked, for replay and rule tests."""
        return [raised.alert() for raised in self.raised]


class DetectionEngine:
    def __init__(self, rules: RuleSet, enricher: Enricher | None = None, suppress_seconds: float = 0) -> None:
        self.rules = rules
        self._templates: dict[str, AlertTemplate] = {}  # by rule id, see _template
        self._enricher = enricher or Enricher()
        self._suppressor = Suppressor(suppress_seconds, rules.suppress_seconds)
        self._suppressing = _suppresses(suppress_seconds, rules)
        self._stats: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])  # evaluations, matches, seconds
        self._tried: dict[int, list[Any]] = {}  # events by candidates list (by its id): [list, events]
        self._raised: dict[str, int] = defaultdict(int)  # alerts by rule level, for siem_alerts_total
        # Each rule's three counters, looked up by label once: `.labels()` per rule per batch was ~0.8 µs an event.
        self._rule_counters: dict[str, tuple[Counter, Counter, Counter]] = {}
        self.emit_silenced = False  # rule tests want every rule's own alert, `generate: false` or not
        self._evaluated = 0

    def evaluate(self, event: Envelope) -> Detection:
        """What the event produced; raises InvalidEnvelope when a rule reads its raw JSON and it cannot be decoded."""
        # Only the raw paths the rules of the event's logsource read are decoded (services/shared/projection.py).
        route = self.rules.index.route(event.logsource)
        reader = FieldReader(event, route.projection)
        result = Detection()
        self._evaluated += 1
        # Timing every evaluation would cost more than many rules do: one event in TIMING_SAMPLE is timed.
        if self._evaluated % TIMING_SAMPLE == 0:
            self._evaluate_timed(route.candidates(reader), event, reader, result)
            return result
        stats = self._stats
        candidates = route.candidates(reader)
        # One loop, no call per candidate: with the index in front, this is most of what a rule costs.
        for rule in candidates:
            try:
                matched = rule.matches(reader)
            except InvalidEnvelope:  # the event's raw JSON, read for this rule, cannot be: not the rule's fault
                self._count_tried(candidates, rule, itself=False)
                raise
            except Exception as exc:  # one broken rule must not stop the others
                self._failed(rule, event, exc)
                matched = False
            if matched:
                stats[rule.ref.id][1] += 1
                result.matches.append(rule.ref)
                try:
                    self._emit(rule, event, reader, result)
                except InvalidEnvelope:  # a correlation's group-by value, read from raw
                    self._count_tried(candidates, rule, itself=True)
                    raise
        if candidates:
            # Evaluations are counted by candidates list: a remembered combination hands the same tuple.
            tried = self._tried.get(id(candidates))
            if tried is not None:
                tried[1] += 1
            else:
                self._tried_anew(candidates)
        return result

    def _tried_anew(self, candidates: Sequence[CompiledRule]) -> None:
        if len(self._tried) >= _MAX_TRIED:  # lists the index made for one event only, seldom as many in a batch
            self._count_evaluations()
        self._tried[id(candidates)] = [candidates, 1]  # holding the list keeps its id from being reused

    def _count_tried(self, candidates: Sequence[CompiledRule], rule: CompiledRule, *, itself: bool) -> None:
        """An event given up at `rule`: the rules tried before it are counted one by one, and it too if `itself`."""
        for tried in candidates:
            if tried is rule and not itself:
                return
            self._stats[tried.ref.id][0] += 1
            if tried is rule:
                return

    def _count_evaluations(self) -> None:
        """Evaluations counted by candidates list, added to each rule's."""
        stats = self._stats
        for candidates, events in self._tried.values():
            for rule in candidates:
                stats[rule.ref.id][0] += events
        self._tried.clear()

    def _evaluate_timed(
        self, candidates: Sequence[CompiledRule], event: Envelope, reader: FieldReader, result: Detection
    ) -> None:
        """`evaluate`'s loop, each rule timed: its time stands for the TIMING_SAMPLE events of which one is timed."""
        stats = self._stats
        for rule in candidates:
            started = time.perf_counter()
            try:
                matched = rule.matches(reader)
            except InvalidEnvelope:
                raise
            except Exception as exc:
                self._failed(rule, event, exc)
                matched = False
            counts = stats[rule.ref.id]
            counts[0] += 1
            counts[2] += (time.perf_counter() - started) * TIMING_SAMPLE
            if matched:
                counts[1] += 1
                result.matches.append(rule.ref)
                self._emit(rule, event, reader, result)

    @staticmethod
    def _failed(rule: CompiledRule, event: Envelope, exc: Exception) -> None:
        RULE_FAILURES.labels(rule.ref.id).inc()
        ERRORS.labels("correlator", "rule_failed").inc()
        log.error("rule_failed", rule_id=rule.ref.id, event_id=event.id, error=type(exc).__name__)

    def _emit(self, rule: CompiledRule, event: Envelope, reader: FieldReader, result: Detection) -> None:
        ref = rule.ref
        if self.emit_silenced or ref.id not in self.rules.silenced:
            # Without suppression configured (the default) every alert is admitted, and nothing is remembered.
            admitted, quiet_until = self._suppressor.decide(ref, {}, event.time) if self._suppressing else _ADMITTED
            if admitted:
                self._raised[ref.level] += 1
                if result.alerted is None:
                    result.alerted = AlertedEvent(event.id, event.time, event.module)
                template = self._templates.get(ref.id)
                if template is None or template.rule is not ref:
                    template = self._template(ref)
                result.raised.append(EventAlert(template, result.alerted, quiet_until))
        feeds = self.rules.feeds.get(ref.id)
        if feeds:
            self._hit(rule, feeds, event, reader, result)

    def _hit(
        self,
        rule: CompiledRule,
        feeds: Sequence[CorrelationRule],
        event: Envelope,
        reader: FieldReader,
        result: Detection,
    ) -> None:
        """A hit for each correlation the matched rule feeds, with that correlation's group-by values."""
        for correlation in feeds:
            group: dict[str, Scalar] = {}
            for name in correlation.group_by:
                group[name] = _scalar(reader.get(correlation.group_field(name, rule.ref.id)))
            if any(value is None for value in group.values()):
                # Like `stats … by field` elsewhere: an event without a group-by value belongs to no group.
                HITS_WITHOUT_GROUP.labels(correlation.ref.id).inc()
                continue
            value = reader.get(correlation.value_field) if correlation.value_field else None
            result.hits.append(
                Hit(
                    correlation=correlation.ref.id,
                    rule=rule.ref.id,
                    time=event.time,
                    event_ids=[event.id],
                    group=group,
                    value=_scalar(value),
                    modules=[event.module],
                )
            )

    def _template(self, ref: RuleRef) -> AlertTemplate:
        """The rule's part of its alerts, made at its first alert: the same for all of them.

        Every value in it is validated already (the compiled rule, the enrichment that follows
        from it), so none is validated again.
        """
        template = self._templates[ref.id] = AlertTemplate(ref, self._enricher.enrichment(ref, {}))
        return template

    def replace_rules(self, rules: RuleSet) -> None:
        """Swap in a reloaded rule set; one reference assignment, so no event sees half of each."""
        self._suppressor = Suppressor(self._suppressor.default_seconds, rules.suppress_seconds)
        self._suppressing = _suppresses(self._suppressor.default_seconds, rules)
        self._templates = {}
        self._rule_counters = {}
        self.rules = rules

    def flush_metrics(self) -> None:
        """Per-rule and alert counters are added once per batch: cheap enough to keep for every rule."""
        for level, raised in self._raised.items():
            alerts_counter(level).inc(raised)
        self._raised.clear()
        self._count_evaluations()
        for rule_id, (evaluations, matches, seconds) in self._stats.items():
            counters = self._rule_counters.get(rule_id) or self._counters_of(rule_id)
            counters[0].inc(evaluations)
            if matches:
                counters[1].inc(matches)
            counters[2].inc(seconds)
        self._stats.clear()

    def _counters_of(self, rule_id: str) -> tuple[Counter, Counter, Counter]:
        counters = (RULE_EVALUATIONS.labels(rule_id), RULE_MATCHES.labels(rule_id), RULE_SECONDS.labels(rule_id))
        self._rule_counters[rule_id] = counters
        return counters


def _suppresses(default_seconds: float, rules: RuleSet) -> bool:
    """Whether any rule's alerts may be suppressed (`Suppressor.decide` admits every alert of a rule with no period)."""
    return default_seconds > 0 or any(seconds > 0 for seconds in rules.suppress_seconds.values())


_ADMITTED: tuple[bool, None] = (True, None)


def _scalar(value: object) -> Scalar:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
