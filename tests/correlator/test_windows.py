"""Correlation windows: inclusive timespans, sliding (not bucketed) windows, and evidence consumed when they fire."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.correlator.pipeline import InProcessPipeline
from services.correlator.rules.correlation import CorrelationRule
from services.correlator.ruleset import RuleSet
from services.correlator.windows import Entry, Window
from services.shared.alert import Alert
from services.shared.event import Event, LogSource

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # on the hour, so bucket boundaries are easy to straddle
SOURCE = LogSource(product="test")


def uid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"siem-test:{name}"))


def load(folder: Path, kind: str, timespan: str, condition: dict[str, Any] | None = None) -> RuleSet:
    """Rules `a` and `b` (raw `kind: a|b`) and a correlation `c` of `kind` over them, grouped by raw `who`."""
    documents: list[dict[str, Any]] = [
        {
            "title": f"rule {name}",
            "id": uid(name),
            "name": name,
            "logsource": {"product": "test"},
            "detection": {"selection": {"kind": name}, "condition": "selection"},
        }
        for name in ("a", "b")
    ]
    spec: dict[str, Any] = {"type": kind, "rules": ["a", "b"], "group-by": ["who"], "timespan": timespan}
    if condition is not None:
        spec["condition"] = condition
    documents.append({"title": "correlation c", "id": uid("c"), "correlation": spec})
    (folder / "rules.yml").write_text(yaml.safe_dump_all(documents, sort_keys=False), encoding="utf-8")
    rules = RuleSet.load([folder])
    assert [str(e) for e in rules.errors] == []
    return rules


def event(seconds: float, kind: str, who: str = "x") -> Event:
    return Event(
        id=f"{kind}@{seconds}",
        time=T0 + timedelta(seconds=seconds),
        ingested=T0,
        logsource=SOURCE,
        raw={"kind": kind, "who": who},
    )


def alerts(rules: RuleSet, events: list[Event], lateness_seconds: float = 0.0) -> list[Alert]:
    pipeline = InProcessPipeline(rules, lateness_seconds)
    return [a for e in events for a in pipeline.feed(e) if a.rule.id == uid("c")]


CASES = [
    ("event_count", {"gte": 2}, ("a", "a")),
    ("temporal", None, ("b", "a")),
    ("temporal_ordered", None, ("a", "b")),
]


@pytest.mark.parametrize(("kind", "condition", "kinds"), CASES, ids=[c[0] for c in CASES])
def test_hits_exactly_one_timespan_apart_are_in_one_window(
    tmp_path: Path, kind: str, condition: dict[str, Any] | None, kinds: tuple[str, str]
) -> None:
    """Two hits exactly `timespan` (10s) apart fire: the timespan is inclusive at both ends."""
    rules = load(tmp_path, kind, "10s", condition)
    (alert,) = alerts(rules, [event(0, kinds[0]), event(10, kinds[1])])
    assert alert.first_seen == T0 and alert.last_seen == T0 + timedelta(seconds=10)


@pytest.mark.parametrize(("kind", "condition", "kinds"), CASES, ids=[c[0] for c in CASES])
def test_hits_one_millisecond_more_apart_are_not(
    tmp_path: Path, kind: str, condition: dict[str, Any] | None, kinds: tuple[str, str]
) -> None:
    """Two hits 10.001s apart, one millisecond more than the timespan, never share a window."""
    rules = load(tmp_path, kind, "10s", condition)
    assert alerts(rules, [event(0, kinds[0]), event(10.001, kinds[1])]) == []


def test_boundary_holds_for_late_hits_too(tmp_path: Path) -> None:
    """A hit arriving after a newer one (within the allowed lateness) is in its window exactly up to the timespan."""
    rules = load(tmp_path, "event_count", "10s", {"gte": 2})
    assert len(alerts(rules, [event(10, "a"), event(0, "a")], lateness_seconds=60)) == 1
    assert alerts(rules, [event(10, "a"), event(-0.001, "a")], lateness_seconds=60) == []


def test_windows_slide_across_bucket_boundaries(tmp_path: Path) -> None:
    """Two hits two seconds apart on either side of a full hour fire a 1h correlation: no fixed buckets."""
    rules = load(tmp_path, "event_count", "1h", {"gte": 2})
    assert len(alerts(rules, [event(3599, "a"), event(3601, "a")])) == 1


def test_fired_hits_are_consumed(tmp_path: Path) -> None:
    """Evidence raises one alert only: four hits for `gte: 2` raise two alerts over disjoint events."""
    rules = load(tmp_path, "event_count", "1m", {"gte": 2})
    raised = alerts(rules, [event(s, "a") for s in range(4)])
    assert [a.event_ids for a in raised] == [["a@0", "a@1"], ["a@2", "a@3"]]


def test_the_window_slides_past_an_old_hit(tmp_path: Path) -> None:
    """A hit that fell out of the timespan no longer counts, but the next two inside one timespan do."""
    rules = load(tmp_path, "event_count", "10s", {"gte": 2})
    raised = alerts(rules, [event(0, "a"), event(11, "a"), event(12, "a")])
    assert [a.event_ids for a in raised] == [["a@11", "a@12"]]


def test_groups_expire_independently(tmp_path: Path) -> None:
    """A newer hit of another group does not push a group's hits out of its own timespan."""
    rules = load(tmp_path, "event_count", "10s", {"gte": 2})
    raised = alerts(rules, [event(0, "a", "x"), event(5, "a", "y"), event(10, "a", "x")])
    assert [a.group for a in raised] == [{"who": "x"}]


# --- Window itself ---------------------------------------------------------------------------


def _rule(folder: Path, kind: str, timespan: str, condition: dict[str, Any] | None = None) -> CorrelationRule:
    return load(folder, kind, timespan, condition).correlations[uid("c")]


def _entry(seconds: float, rule: str = "a", value: object = None, sequence: int | None = None) -> Entry:
    order = int(seconds * 1000) if sequence is None else sequence
    return Entry(T0.timestamp() + seconds, order, uid(rule), (f"{rule}@{seconds}",), value)


def test_fire_returns_and_removes_the_window_that_met_the_condition(tmp_path: Path) -> None:
    """`fire` returns the entries of the window that met the condition and leaves only the others."""
    rule = _rule(tmp_path, "event_count", "10s", {"gte": 2})
    window = Window()
    for seconds in (0, 20, 21):
        window.add(_entry(seconds))
    fired = window.fire(rule, since=T0.timestamp() + 21)
    assert fired is not None and [e.event_ids for e in fired] == [("a@20",), ("a@21",)]
    assert [e.event_ids for e in window.entries] == [("a@0",)]
    assert window.fire(rule, since=T0.timestamp()) is None


def test_fire_only_looks_at_windows_ending_at_or_after_since(tmp_path: Path) -> None:
    """Windows that end before `since` were judged already; `fire` does not judge them again."""
    rule = _rule(tmp_path, "event_count", "10s", {"gte": 2})
    window = Window()
    for seconds in (0, 1):
        window.add(_entry(seconds))
    assert window.fire(rule, since=T0.timestamp() + 2) is None
    assert window.fire(rule, since=T0.timestamp() + 1) is not None


def test_entries_keep_event_time_order_whatever_the_arrival(tmp_path: Path) -> None:
    """Entries are kept by event time, and equal times by arrival, whatever order they are added in."""
    window = Window()
    for entry in (_entry(5, sequence=0), _entry(1, sequence=1), _entry(5, "b", sequence=2), _entry(3, sequence=3)):
        window.add(entry)
    assert [(e.event_ids[0], e.sequence) for e in window.entries] == [("a@1", 1), ("a@3", 3), ("a@5", 0), ("b@5", 2)]


def test_equal_times_in_arrival_order_are_ordered(tmp_path: Path) -> None:
    """For temporal_ordered, `a` then `b` at the same instant, arriving in that order, is in order."""
    rule = _rule(tmp_path, "temporal_ordered", "10s")
    window = Window()
    window.add(_entry(1, "a", sequence=0))
    window.add(_entry(1, "b", sequence=1))
    assert window.fire(rule, since=T0.timestamp()) is not None


def test_evict_before_keeps_the_horizon_itself() -> None:
    """Eviction drops entries strictly older than the horizon; one exactly on it stays (inclusive timespan)."""
    window = Window()
    for seconds in (0, 0.999, 1, 2):
        window.add(_entry(seconds))
    window.evict_before(T0.timestamp() + 1)
    assert [e.event_ids for e in window.entries] == [("a@1",), ("a@2",)]
    assert window.newest() == T0.timestamp() + 2


@pytest.mark.parametrize(
    ("percentile", "bound", "fires"), [(0, 10, True), (0, 10.5, False), (100, 50, True), (100, 50.5, False)]
)
def test_percentile_extremes_are_min_and_max(tmp_path: Path, percentile: int, bound: float, fires: bool) -> None:
    """The 0th percentile of the window's values is the smallest and the 100th the largest."""
    rule = _rule(tmp_path, "value_percentile", "1h", {"field": "duration", "percentile": percentile, "gte": bound})
    window = Window()
    for seconds, value in enumerate([30, 10, 50, 20, 40]):
        window.add(_entry(seconds, value=value))
    assert (window.fire(rule, since=T0.timestamp() + 4) is not None) is fires


def test_numeric_metrics_ignore_values_that_are_not_numbers(tmp_path: Path) -> None:
    """value_sum adds numbers and numeric strings, and skips booleans, text and missing values."""
    rule = _rule(tmp_path, "value_sum", "1h", {"field": "bytes", "eq": 12})
    window = Window()
    for seconds, value in enumerate([5, "7", True, "n/a", None]):
        window.add(_entry(seconds, value=value))
    assert window.fire(rule, since=T0.timestamp() + 4) is not None
