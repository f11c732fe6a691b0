"""Correlation windows: the hits of one (correlation, group), in event-time order, and when they fire.

A window holds hits no older than its correlation's timespan before the newest. A condition
that only asks for "at least" (gt, gte; temporal kinds) fires as soon as the hits inside one
timespan meet it. A condition with an upper bound or an exact value (lt, lte, eq, neq, or a
range) can only be judged once the timespan is over: such a window is judged when the
watermark passes its first hit plus the timespan. The hits that fired are consumed, and a
redelivered hit (same rule, same events) is counted once, so the same evidence never raises
a second alert. Timespans are inclusive: two hits exactly `timespan` apart are in one window.
"""

from __future__ import annotations

import bisect
import statistics

import msgspec

from services.correlator.rules.correlation import CorrelationRule
from services.shared.alert import Scalar


class Entry(msgspec.Struct, frozen=True, order=True, gc=False):
    """One hit in a window. Ordered by time, then arrival: `sequence` is unique, so later fields never decide."""

    time: float  # event time, epoch seconds
    sequence: int  # arrival order, to keep equal times stable
    rule: str
    event_ids: tuple[str, ...]
    value: Scalar = None
    modules: tuple[str, ...] = ()
    count: int = 1  # events behind it (more than one when chained)
    first: float = 0.0  # earliest event time behind it


def judged_at_close(rule: CorrelationRule) -> bool:
    """Whether the condition can only be decided once the timespan is over (it has an upper bound)."""
    return rule.type not in ("temporal", "temporal_ordered") and any(
        op in ("lt", "lte", "eq", "neq") for op, _ in rule.condition.bounds
    )


class Window:
    __slots__ = ("entries", "latest", "seen")

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.seen: dict[tuple[str, tuple[str, ...]], float] = {}  # evidence -> its time
        self.latest = float("-inf")  # the newest evidence time, counted or consumed

    @classmethod
    def holding(cls, entry: Entry) -> Window:
        """A window of this one hit."""
        window = cls()
        window.add(entry)
        return window

    def only_entry(self) -> Entry | None:
        """The window's one hit, when that hit is all it remembers (nothing consumed, nothing else seen)."""
        if len(self.entries) == 1 and len(self.seen) == 1 and self.latest == self.entries[0].time:
            return self.entries[0]
        return None

    def add(self, entry: Entry) -> bool:
        """Adds the hit unless the same evidence was already counted; returns whether it was new."""
        evidence = (entry.rule, entry.event_ids)
        if evidence in self.seen:
            return False
        self.seen[evidence] = entry.time
        self.latest = max(self.latest, entry.time)
        bisect.insort(self.entries, entry)
        return True

    def evict_before(self, horizon: float) -> None:
        cut = bisect.bisect_left(self.entries, Entry(horizon, -1, "", ()))
        if cut:
            del self.entries[:cut]
        if any(t < horizon for t in self.seen.values()):
            self.seen = {k: t for k, t in self.seen.items() if t >= horizon}

    def closes_at(self, rule: CorrelationRule) -> float:
        return self.entries[0].time + rule.timespan_seconds if self.entries else float("inf")

    def close(self, rule: CorrelationRule, watermark: float) -> list[list[Entry]]:
        """Judge every window whose timespan ended before `watermark`; returns the spans that fired."""
        fired = []
        while self.entries and self.closes_at(rule) < watermark:
            end = bisect.bisect_right(self.entries, Entry(self.closes_at(rule), 2**62, "", ()))
            span = self.entries[:end]
            del self.entries[:end]
            if _satisfied(rule, span):
                fired.append(span)
        return fired

    def newest(self) -> float:
        """The latest time this window still needs to remember, counted or already consumed."""
        return self.latest

    def fire(self, rule: CorrelationRule, since: float) -> list[Entry] | None:
        """The entries of the first timespan ending at or after `since` that meets the condition, consumed."""
        for end in range(len(self.entries)):
            end_time = self.entries[end].time
            if end_time < since:
                continue
            start = bisect.bisect_left(self.entries, Entry(end_time - rule.timespan_seconds, -1, "", ()))
            span = self.entries[start : end + 1]
            if _satisfied(rule, span):
                del self.entries[start : end + 1]
                return span
        return None


def one_hit_can_fire(rule: CorrelationRule) -> bool:
    """Whether a window of a single hit could meet the condition (for counts and temporal kinds, it rarely can)."""
    if rule.type in ("event_count", "temporal"):
        return rule.condition.holds(1)
    if rule.type == "temporal_ordered":
        return len(rule.rules) == 1
    return True  # value_*: depends on the value


def _satisfied(rule: CorrelationRule, span: list[Entry]) -> bool:
    kind = rule.type
    if kind == "event_count":
        return rule.condition.holds(len(span))  # hits: over a correlation, its alerts; `count` has the events
    if kind == "value_count":
        return rule.condition.holds(len({str(e.value) for e in span if e.value is not None}))
    if kind == "temporal":
        return rule.condition.holds(len({e.rule for e in span}))
    if kind == "temporal_ordered":
        return _in_order(rule.rules, span)
    numbers = [n for n in (_number(e.value) for e in span) if n is not None]
    if not numbers:
        return False
    if kind == "value_sum":
        return rule.condition.holds(sum(numbers))
    if kind == "value_avg":
        return rule.condition.holds(statistics.fmean(numbers))
    if kind == "value_median":
        return rule.condition.holds(statistics.median(numbers))
    return rule.condition.holds(_percentile(numbers, rule.percentile))


def _in_order(order: tuple[str, ...], span: list[Entry]) -> bool:
    """Every rule of `order` matched, each after the one before it (the earliest fit is found greedily)."""
    position = 0
    for entry in span:
        if entry.rule == order[position]:
            position += 1
            if position == len(order):
                return True
    return False


def _number(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _percentile(numbers: list[float], percentile: float) -> float:
    """Linear interpolation between closest ranks (numpy's default method)."""
    ordered = sorted(numbers)
    rank = (len(ordered) - 1) * percentile / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
