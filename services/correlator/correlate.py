"""Stage 2, correlation: hits into windows on event time; a window that fires is an alert.

Per partition of `siem.hits` (every hit of one group is on one partition) the engine keeps
a watermark: the newest event time seen minus the allowed lateness. A hit older than the
watermark is late: it is counted and returned so the stage can dead-letter it, never
dropped silently. When partitions move, `forget` drops their windows; the stage rebuilds
them by replaying the partition from the longest timespan back.
"""

from __future__ import annotations

import heapq
import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from services.correlator.enrich import Enricher
from services.correlator.hits import Hit
from services.correlator.hunt import hunt_query
from services.correlator.metrics import LATE_HITS, OPEN_WINDOWS
from services.correlator.rules.correlation import CorrelationRule
from services.correlator.ruleset import RuleSet
from services.correlator.suppression import Suppressor
from services.correlator.window_store import Codes, WindowStore, group_key, group_of
from services.correlator.windows import Entry, Window, judged_at_close, one_hit_can_fire
from services.shared.alert import Alert, Scalar, alert_id

MAX_EVENT_IDS = 1000  # an alert lists at most this many events; `count` has them all
_SWEEP_EVERY = 10_000


@dataclass
class Correlated:
    alerts: list[Alert] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)  # chained: hits for correlations over correlations
    late: bool = False


class CorrelationEngine:
    def __init__(
        self,
        rules: RuleSet,
        lateness_seconds: float = 0.0,
        enricher: Enricher | None = None,
        suppress_seconds: float = 0,
        *,
        emit_silenced: bool = False,
    ) -> None:
        self.rules = rules
        self._lateness = lateness_seconds
        self._enricher = enricher or Enricher()
        self._suppressor = Suppressor(suppress_seconds, rules.suppress_seconds)
        self._rule_codes: Codes[str] = Codes()
        self._module_codes: Codes[tuple[str, ...]] = Codes()
        self._windows: dict[int, WindowStore] = {}
        # Windows judged at their end, by when that is: (closes at, tie-breaker, correlation id, group key)
        self._closing: dict[int, list[tuple[float, int, str, str]]] = defaultdict(list)
        # Per correlation id, for the current rule set: judged at its close; fires on a single hit
        self._judged_at_close: dict[str, bool] = {}
        self._one_hit_fires: dict[str, bool] = {}
        self._newest: dict[int, float] = {}
        self._sequence = itertools.count()
        self._observed = 0
        self._next_sweep = _SWEEP_EVERY
        self._emit_silenced = emit_silenced  # rule tests want every correlation's alert

    def watermark(self, partition: int) -> float:
        return self._newest.get(partition, float("-inf")) - self._lateness

    def observe(self, hit: Hit, partition: int = 0) -> Correlated:
        rule = self.rules.correlations.get(hit.correlation)
        if rule is None:  # the rule was removed by a reload: nothing waits for this hit any more
            return Correlated()
        moment = hit.time.timestamp()
        newest = self._newest.get(partition)
        if newest is not None and moment < newest - self._lateness:
            LATE_HITS.inc()
            return Correlated(late=True)
        if newest is None or moment > newest:
            self._newest[partition] = newest = moment
        watermark = newest - self._lateness
        result = Correlated()
        if self._closing[partition]:
            self._close_due(partition, watermark, result)
        key = group_key(hit.group)
        entry = Entry(
            moment,
            next(self._sequence),
            hit.rule,
            tuple(hit.event_ids),
            hit.value,
            tuple(hit.modules),
            hit.count,
            hit.first_time.timestamp() if hit.first_time else moment,
        )
        self._place(rule, partition, key, entry, watermark, result)
        self._observed += 1
        # Sweeping walks every window: doing it once per as many hits as there are windows keeps it O(1) a hit.
        if self._observed >= self._next_sweep:
            self._sweep(partition)
            self._next_sweep = self._observed + max(_SWEEP_EVERY, len(self._store(partition)))
        return result

    def _place(
        self, rule: CorrelationRule, partition: int, key: str, entry: Entry, watermark: float, result: Correlated
    ) -> None:
        """Add the entry to its window: one with an upper bound waits for its close, any other may fire now."""
        windows = self._store(partition)
        window = windows.get(rule.ref.id, key)
        judged = self._judged(rule)
        if window is None:
            if judged or not self._one_hit_can_fire(rule):  # the usual first hit: nothing to decide yet
                windows.put_new(rule.ref.id, key, entry)
                if judged:
                    self._close_later(partition, entry.time + rule.timespan_seconds, rule.ref.id, key)
                return
            window = Window.holding(entry)
        elif not window.add(entry):
            return  # the same evidence again (a redelivery): nothing changes
        if judged:
            self._close_later(partition, window.closes_at(rule), rule.ref.id, key)
        else:
            window.evict_before(watermark - rule.timespan_seconds)
            fired = window.fire(rule, since=entry.time)
            if fired:
                self._raise(rule, group_of(key, rule.group_by), fired, result)
        windows.put(rule.ref.id, key, window)

    def _close_later(self, partition: int, closes_at: float, correlation_id: str, key: str) -> None:
        heapq.heappush(self._closing[partition], (closes_at, next(self._sequence), correlation_id, key))

    def flush(self) -> Correlated:
        """Judge every window still open, as if time had moved past them all (end of a replay)."""
        result = Correlated()
        for partition in list(self._closing):
            self._close_due(partition, float("inf"), result)
        return result

    def _store(self, partition: int) -> WindowStore:
        store = self._windows.get(partition)
        if store is None:
            store = self._windows[partition] = WindowStore(self._rule_codes, self._module_codes)
        return store

    def _judged(self, rule: CorrelationRule) -> bool:
        judged = self._judged_at_close.get(rule.ref.id)
        if judged is None:
            judged = self._judged_at_close[rule.ref.id] = judged_at_close(rule)
        return judged

    def _one_hit_can_fire(self, rule: CorrelationRule) -> bool:
        can = self._one_hit_fires.get(rule.ref.id)
        if can is None:
            can = self._one_hit_fires[rule.ref.id] = one_hit_can_fire(rule)
        return can

    def _close_due(self, partition: int, watermark: float, result: Correlated) -> None:
        """Windows with an upper-bound condition are judged once the watermark passes their end."""
        closing = self._closing[partition]
        windows = self._store(partition)
        while closing and closing[0][0] < watermark:
            _, _, correlation_id, key = heapq.heappop(closing)
            window, rule = windows.get(correlation_id, key), self.rules.correlations.get(correlation_id)
            if window is None or rule is None:
                continue
            for span in window.close(rule, watermark):
                self._raise(rule, group_of(key, rule.group_by), span, result)
            if window.entries:
                self._close_later(partition, window.closes_at(rule), correlation_id, key)
            windows.put(correlation_id, key, window)

    def replace_rules(self, rules: RuleSet) -> None:
        """Swap in a reloaded rule set; windows of correlations that still exist keep counting."""
        self._suppressor = Suppressor(self._suppressor.default_seconds, rules.suppress_seconds)
        self._judged_at_close, self._one_hit_fires = {}, {}
        self.rules = rules

    def forget(self, partitions: set[int]) -> None:
        """Drop the windows of partitions this instance no longer owns."""
        for partition in partitions:
            self._windows.pop(partition, None)
            self._closing.pop(partition, None)
            self._newest.pop(partition, None)
        OPEN_WINDOWS.set(self.open_windows())

    def open_windows(self) -> int:
        return sum(len(w) for w in self._windows.values())

    def _sweep(self, partition: int) -> None:
        watermark = self.watermark(partition)
        self._store(partition).sweep(watermark, self._timespan)
        OPEN_WINDOWS.set(self.open_windows())

    def _timespan(self, correlation_id: str) -> float:
        rule = self.rules.correlations.get(correlation_id)
        return rule.timespan_seconds if rule else 0.0

    def _raise(self, rule: CorrelationRule, group: dict[str, Scalar], fired: list[Entry], result: Correlated) -> None:
        event_ids = [event_id for entry in fired for event_id in entry.event_ids]
        modules = sorted({m for entry in fired for m in entry.modules})
        first, last = _utc(min(entry.first for entry in fired)), _utc(fired[-1].time)
        count = sum(entry.count for entry in fired)
        alert = self._enricher.enrich(
            Alert(
                id=alert_id(rule.ref.id, group, event_ids),
                rule=rule.ref,
                group=group,
                count=count,
                first_seen=first,
                last_seen=last,
                event_ids=event_ids[:MAX_EVENT_IDS],
                hunt=hunt_query(modules, event_ids),
                ends_at=_utc(fired[0].time + rule.timespan_seconds),  # the window it fired in closes then
            )
        )
        if self._emit_silenced or rule.ref.id not in self.rules.silenced:
            self._suppressor.emit(alert, result.alerts)
        for parent in self.rules.feeds.get(rule.ref.id, ()):
            parent_group = {name: group.get(parent.group_field(name, rule.ref.id)) for name in parent.group_by}
            value = group.get(parent.value_field) if parent.value_field else None
            result.hits.append(
                Hit(
                    correlation=parent.ref.id,
                    rule=rule.ref.id,
                    time=last,
                    event_ids=event_ids,
                    group=parent_group,
                    value=value,
                    modules=modules,
                    count=count,
                    first_time=first,
                )
            )


def _utc(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, UTC)
