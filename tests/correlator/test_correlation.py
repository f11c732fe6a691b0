"""Sigma correlation rules through both stages (InProcessPipeline), on event time, as the specification says.

Rules are Sigma YAML written to tmp_path (or the specification's own examples, read in place from
the corpus) and loaded with RuleSet.load; events are envelopes with an explicit event time.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from services.correlator.correlate import CorrelationEngine
from services.correlator.engine import DetectionEngine
from services.correlator.hits import Hit
from services.correlator.pipeline import InProcessPipeline
from services.correlator.ruleset import RuleSet
from services.shared.alert import Alert, Technique
from services.shared.event import Endpoint, Event, EventInfo, Host, LogSource, User

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TEST_SOURCE = LogSource(product="test", service="auth")
SPEC = Path("sigma/sigma-specification")


def uid(name: str) -> str:
    """A stable rule id per name, so tests can refer to rules by what they are."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"siem-test:{name}"))


def detection(name: str, selection: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "title": f"detect {name}",
        "id": uid(name),
        "name": name,
        "logsource": TEST_SOURCE.model_dump(exclude_none=True),
        "detection": {"selection": selection, "condition": "selection"},
        **extra,
    }


def correlation(
    name: str,
    kind: str,
    rules: list[str],
    group_by: list[str],
    timespan: str,
    condition: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": kind, "rules": rules, "group-by": group_by, "timespan": timespan}
    if condition is not None:
        spec["condition"] = condition
    return {"title": f"correlate {name}", "id": uid(name), "name": name, "correlation": spec, **extra}


def load(folder: Path, *documents: dict[str, Any]) -> RuleSet:
    """Write the documents as one multi-document rule file and load the folder; every rule must load."""
    (folder / "rules.yml").write_text(yaml.safe_dump_all(documents, sort_keys=False), encoding="utf-8")
    rules = RuleSet.load([folder])
    assert [str(e) for e in rules.errors] == []
    return rules


def corpus_document(corpus: Path, relative: str, **overrides: Any) -> dict[str, Any]:
    """One document of a specification file, read in place, with the keys our loader requires added."""
    document = yaml.safe_load((corpus / SPEC / relative).read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return {**document, **overrides}


_numbers = itertools.count()


def burst_rules(folder: Path) -> RuleSet:
    """The rule set most window tests use: two failures of one user within 10 minutes."""
    return load(
        folder,
        detection("fail", {"kind": "fail"}),
        correlation("burst", "event_count", ["fail"], ["user.name"], "10m", {"gte": 2}),
    )


def event(
    seconds: float,
    raw: dict[str, Any] | None = None,
    *,
    logsource: LogSource = TEST_SOURCE,
    user: str | None = None,
    host: str | None = None,
    source_ip: str | None = None,
    destination_ip: str | None = None,
    info: EventInfo | None = None,
    event_id: str | None = None,
) -> Event:
    """An envelope `seconds` after T0 with the given raw payload and ECS fields."""
    return Event(
        id=event_id or f"ev-{next(_numbers)}",
        time=T0 + timedelta(seconds=seconds),
        ingested=T0,
        logsource=logsource,
        raw=raw or {},
        user=User(name=user) if user else None,
        host=Host(name=host) if host else None,
        source=Endpoint(ip=source_ip) if source_ip else None,
        destination=Endpoint(ip=destination_ip) if destination_ip else None,
        event=info or EventInfo(module="test"),
    )


def run(rules: RuleSet, events: Iterable[Event], lateness_seconds: float = 0.0) -> list[Alert]:
    pipeline = InProcessPipeline(rules, lateness_seconds)
    return [alert for e in events for alert in pipeline.feed(e)]


def of(alerts: list[Alert], name: str) -> list[Alert]:
    return [a for a in alerts if a.rule.id == uid(name)]


# --- group-by ---------------------------------------------------------------------------------


def test_group_by_fields_are_anded(tmp_path: Path) -> None:
    """With several group-by fields a window holds only hits that agree on every one of them."""
    rules = load(
        tmp_path,
        detection("login", {"kind": "login"}),
        correlation("pair", "event_count", ["login"], ["host.name", "user.name"], "1h", {"gte": 2}),
    )
    mixed = [
        event(1, {"kind": "login"}, host="h1", user="alice"),
        event(2, {"kind": "login"}, host="h1", user="bob"),
        event(3, {"kind": "login"}, host="h2", user="alice"),
    ]
    assert of(run(rules, mixed), "pair") == []
    same = event(4, {"kind": "login"}, host="h1", user="alice", event_id="again")
    (alert,) = of(run(rules, [*mixed, same]), "pair")
    assert alert.group == {"host.name": "h1", "user.name": "alice"}
    assert alert.event_ids == [mixed[0].id, "again"]
    assert alert.count == 2


def test_groups_do_not_share_windows(tmp_path: Path) -> None:
    """Hits of two groups interleaved in time each count only towards their own group's condition."""
    rules = load(
        tmp_path,
        detection("login", {"kind": "login"}),
        correlation("burst", "event_count", ["login"], ["user.name"], "1h", {"gte": 3}),
    )
    events = [event(i, {"kind": "login"}, user="alice" if i % 2 else "bob") for i in range(5)]
    (alert,) = of(run(rules, events), "burst")  # bob at 0, 2, 4; alice only at 1 and 3
    assert alert.group == {"user.name": "bob"}
    assert alert.event_ids == [events[0].id, events[2].id, events[4].id]


# --- temporal_ordered and temporal --------------------------------------------------------------

RECON = ("recon_cmd_a", "recon_cmd_b", "recon_cmd_c")


def _recon_rules(folder: Path, corpus: Path, kind: str) -> RuleSet:
    """The specification's `Recon` examples (tests/schema/correlation), with three recon command rules."""
    spec = corpus_document(corpus, f"tests/schema/correlation/{kind}.yml", id=uid(kind))
    assert spec["correlation"]["rules"] == list(RECON)
    return load(folder, *(detection(name, {"CommandLine": name}) for name in RECON), spec)


def _recon_events(order: Iterable[str], start: float = 0.0, step: float = 60.0) -> list[Event]:
    raw = {"ComputerName": "ws1", "User": "mallory"}
    return [event(start + i * step, {**raw, "CommandLine": name}) for i, name in enumerate(order)]


@pytest.mark.parametrize("order", list(itertools.permutations(RECON)), ids="-".join)
def test_temporal_ordered_fires_only_in_the_given_order(tmp_path: Path, corpus: Path, order: tuple[str, ...]) -> None:
    """Of the six orders of three rules within the timespan, only the order the rule lists raises an alert."""
    rules = _recon_rules(tmp_path, corpus, "temporal_ordered")
    alerts = of(run(rules, _recon_events(order)), "temporal_ordered")
    assert len(alerts) == (1 if order == RECON else 0)
    if alerts:
        assert alerts[0].group == {"ComputerName": "ws1", "User": "mallory"}
        assert alerts[0].count == 3


@pytest.mark.parametrize(
    "sequence",
    [
        ("recon_cmd_a", "recon_cmd_c", "recon_cmd_b"),  # right first rule, the rest swapped
        ("recon_cmd_b", "recon_cmd_c", "recon_cmd_a"),  # the first rule last
        ("recon_cmd_a", "recon_cmd_a", "recon_cmd_c", "recon_cmd_b", "recon_cmd_b"),  # repeats do not help
    ],
    ids=["a-c-b", "b-c-a", "a-a-c-b-b"],
)
def test_temporal_ordered_needs_the_order_at_every_position(
    tmp_path: Path, corpus: Path, sequence: tuple[str, ...]
) -> None:
    """Every rule must follow the one before it, not only the first rule come first."""
    rules = _recon_rules(tmp_path, corpus, "temporal_ordered")
    assert of(run(rules, _recon_events(sequence, step=10)), "temporal_ordered") == []


def test_temporal_ordered_finds_the_order_among_other_hits(tmp_path: Path, corpus: Path) -> None:
    """Hits out of order before and between the ordered ones do not hide an a→b→c sequence in the timespan."""
    rules = _recon_rules(tmp_path, corpus, "temporal_ordered")
    sequence = ("recon_cmd_c", "recon_cmd_b", "recon_cmd_a", "recon_cmd_c", "recon_cmd_b", "recon_cmd_c")
    assert len(of(run(rules, _recon_events(sequence, step=10)), "temporal_ordered")) == 1


@pytest.mark.parametrize("arrival", [(2, 0, 1), (2, 1, 0), (1, 2, 0)], ids=["c-a-b", "c-b-a", "b-c-a"])
def test_temporal_ordered_uses_event_time_not_arrival(
    tmp_path: Path, corpus: Path, arrival: tuple[int, int, int]
) -> None:
    """Hits that happened a, b, c fire in whatever order they arrive within the allowed lateness."""
    rules = _recon_rules(tmp_path, corpus, "temporal_ordered")
    happened = _recon_events(RECON, step=10)
    assert len(of(run(rules, [happened[i] for i in arrival], lateness_seconds=60), "temporal_ordered")) == 1


def test_temporal_ordered_arrival_order_does_not_make_up_for_event_time(tmp_path: Path, corpus: Path) -> None:
    """Hits that happened c, b, a do not fire even when they arrive a, b, c."""
    rules = _recon_rules(tmp_path, corpus, "temporal_ordered")
    c, b, a = _recon_events(reversed(RECON), step=10)
    assert of(run(rules, [a, b, c], lateness_seconds=60), "temporal_ordered") == []


FOUR = ("first", "second", "third", "fourth")


@pytest.mark.parametrize(
    "order",
    [FOUR, *(FOUR[:i] + (FOUR[i + 1], FOUR[i]) + FOUR[i + 2 :] for i in range(3))],
    ids=["in-order", "swap-1-2", "swap-2-3", "swap-3-4"],
)
def test_temporal_ordered_checks_every_adjacent_pair(tmp_path: Path, order: tuple[str, ...]) -> None:
    """With four rules, swapping any one adjacent pair (first two, middle two, last two) stops the alert."""
    rules = load(
        tmp_path,
        *(detection(name, {"step": name}) for name in FOUR),
        correlation("chain4", "temporal_ordered", list(FOUR), ["user.name"], "1h"),
    )
    events = [event(i, {"step": name}, user="mallory") for i, name in enumerate(order)]
    assert len(of(run(rules, events), "chain4")) == (1 if order == FOUR else 0)


def test_temporal_ordered_must_fit_in_the_timespan(tmp_path: Path, corpus: Path) -> None:
    """The ordered sequence spread over more than the timespan (5m) does not fire."""
    rules = _recon_rules(tmp_path, corpus, "temporal_ordered")
    assert of(run(rules, _recon_events(RECON, step=150.001)), "temporal_ordered") == []
    assert len(of(run(rules, _recon_events(RECON, step=150)), "temporal_ordered")) == 1


@pytest.mark.parametrize("order", list(itertools.permutations(RECON)), ids="-".join)
def test_temporal_fires_in_any_order(tmp_path: Path, corpus: Path, order: tuple[str, ...]) -> None:
    """A temporal correlation fires once every rule matched within the timespan, whatever their order."""
    rules = _recon_rules(tmp_path, corpus, "temporal")
    (alert,) = of(run(rules, _recon_events(order)), "temporal")
    assert alert.count == 3 and alert.group == {"ComputerName": "ws1", "User": "mallory"}


def test_temporal_needs_every_rule(tmp_path: Path, corpus: Path) -> None:
    """Many hits of only two of the three rules never make a temporal correlation fire."""
    rules = _recon_rules(tmp_path, corpus, "temporal")
    assert of(run(rules, _recon_events(["recon_cmd_a", "recon_cmd_b"] * 5, step=5)), "temporal") == []


def test_temporal_needs_the_same_group(tmp_path: Path, corpus: Path) -> None:
    """The three rules matched by three different users on one host are not one temporal sequence."""
    rules = _recon_rules(tmp_path, corpus, "temporal")
    events = [event(i, {"ComputerName": "ws1", "User": f"u{i}", "CommandLine": n}) for i, n in enumerate(RECON)]
    assert of(run(rules, events), "temporal") == []


def test_temporal_condition_counts_distinct_rules(tmp_path: Path) -> None:
    """A temporal condition counts the different rules that matched: `gte: 2` of three fires on any two of them."""
    rules = load(
        tmp_path,
        *(detection(name, {"CommandLine": name}) for name in RECON),
        correlation("two_of_three", "temporal", list(RECON), ["User"], "5m", {"gte": 2}),
    )
    same_rule_twice = [event(i, {"User": "m", "CommandLine": "recon_cmd_b"}) for i in range(2)]
    assert of(run(rules, same_rule_twice), "two_of_three") == []
    two_rules = [event(i, {"User": "m", "CommandLine": n}) for i, n in enumerate(["recon_cmd_c", "recon_cmd_a"])]
    assert len(of(run(rules, two_rules), "two_of_three")) == 1


# --- event_count, value_count -----------------------------------------------------------------


def test_event_count_fires_at_the_threshold(tmp_path: Path, corpus: Path) -> None:
    """The specification's event_count example (gte 100 per ComputerName in 1h) fires on the 100th hit."""
    spec = corpus_document(corpus, "tests/schema/correlation/event_count.yml")
    (referenced,) = spec["correlation"]["rules"]
    failed = {**detection("failed", {"EventID": 4625}), "id": referenced}
    rules = load(tmp_path, failed, spec)
    events = [event(i * 30, {"EventID": 4625, "ComputerName": "dc1"}) for i in range(100)]
    alerts = run(rules, events)
    assert [a.rule.id for a in alerts] == [spec["id"]]  # only on the last event, and the rule itself is silent
    assert alerts[0].count == 100
    assert alerts[0].group == {"ComputerName": "dc1"}
    assert alerts[0].first_seen == events[0].time and alerts[0].last_seen == events[-1].time
    assert run(rules, events[:99]) == []


def test_value_count_counts_distinct_values_and_ignores_nulls(tmp_path: Path) -> None:
    """value_count counts distinct values of its field; repeats and events without the field add nothing."""
    rules = load(
        tmp_path,
        detection("failed", {"kind": "failed"}),
        correlation("spray", "value_count", ["failed"], ["source.ip"], "1h", {"field": "user.name", "gte": 3}),
    )
    ip = "203.0.113.7"
    before = [
        event(1, {"kind": "failed"}, source_ip=ip, user="alice"),
        event(2, {"kind": "failed"}, source_ip=ip, user="alice"),
        event(3, {"kind": "failed"}, source_ip=ip, user="bob"),
        event(4, {"kind": "failed"}, source_ip=ip),
        event(5, {"kind": "failed"}, source_ip=ip),
        event(6, {"kind": "failed"}, source_ip="198.51.100.1", user="carol"),
    ]
    assert of(run(rules, before), "spray") == []
    third = event(7, {"kind": "failed"}, source_ip=ip, user="carol")
    (alert,) = of(run(rules, [*before, third]), "spray")
    assert alert.group == {"source.ip": ip}
    assert alert.event_ids == [e.id for e in before[:5]] + [third.id]


def test_value_count_distinct_is_exact_on_case(tmp_path: Path) -> None:
    """`Alice` and `alice` are two values: the distinct count compares values exactly."""
    rules = load(
        tmp_path,
        detection("failed", {"kind": "failed"}),
        correlation("spray", "value_count", ["failed"], ["source.ip"], "1h", {"field": "user.name", "gte": 2}),
    )
    events = [event(i, {"kind": "failed"}, source_ip="192.0.2.1", user=u) for i, u in enumerate(["alice", "Alice"])]
    assert len(of(run(rules, events), "spray")) == 1


# --- value_sum, value_avg, value_median, value_percentile ---------------------------------------


def test_value_sum_from_the_specification(tmp_path: Path, corpus: Path) -> None:
    """The specification's value_sum example fires once bytes_sent per SourceIP and User exceeds 1000000."""
    spec = corpus_document(corpus, "tests/schema/correlation/value_sum.yml", id=uid("exfil"))
    rules = load(tmp_path, detection("website_access", {"kind": "web"}), spec)
    raw = {"kind": "web", "SourceIP": "10.0.0.9", "User": "eve"}
    sent = [400_000, 400_000, "n/a", 200_000, 1]  # a value that is not a number adds nothing
    events = [event(i, {**raw, "bytes_sent": b}) for i, b in enumerate(sent)]
    alerts = of(run(rules, events), "exfil")
    assert [a.count for a in alerts] == [5]  # 1000000 is not > 1000000; the 1 more byte is
    assert run(rules, events[:4]) == []


def test_value_avg_from_the_specification(tmp_path: Path, corpus: Path) -> None:
    """The specification's value_avg example fires when the mean BytesOut per SourceIP and User passes 500."""
    spec = corpus_document(corpus, "tests/schema/correlation/value_avg.yml", id=uid("avg"))
    rules = load(tmp_path, detection("rule_a_id", {"kind": "net"}), spec)
    raw = {"kind": "net", "SourceIP": "10.0.0.9", "User": "eve"}
    low = [event(i, {**raw, "BytesOut": b}) for i, b in enumerate([100, 200, 300, 900])]  # mean 375
    assert of(run(rules, low), "avg") == []
    high = [event(i, {**raw, "BytesOut": b}) for i, b in enumerate([100, 200, 1300])]  # mean 533.3
    (alert,) = of(run(rules, high), "avg")
    assert alert.count == 3


def test_value_median(tmp_path: Path) -> None:
    """value_median compares the median of the field over the window (an even count averages the middle two)."""
    rules = load(
        tmp_path,
        detection("slow", {"kind": "request"}),
        correlation("median", "value_median", ["slow"], ["host.name"], "1h", {"field": "duration", "gte": 90}),
    )
    values = [10, 10, 90, 90, 90]  # medians as they arrive: 10, 10, 10, 50, 90
    events = [event(i, {"kind": "request", "duration": v}, host="web1") for i, v in enumerate(values)]
    alerts = of(run(rules, events), "median")
    assert [a.count for a in alerts] == [5]
    assert of(run(rules, events[:4]), "median") == []


def test_value_percentile(tmp_path: Path) -> None:
    """value_percentile compares the given percentile of the field (linear interpolation between ranks)."""
    condition: dict[str, Any] = {"field": "duration", "percentile": 75, "gte": 40}
    rules = load(
        tmp_path,
        detection("req", {"kind": "request"}),
        correlation("p75", "value_percentile", ["req"], ["host.name"], "1h", condition),
    )
    values = [10, 20, 30, 40, 50]  # the 75th percentile after each: 10, 17.5, 25, 32.5, 40
    events = [event(i, {"kind": "request", "duration": v}, host="web1") for i, v in enumerate(values)]
    assert [a.count for a in of(run(rules, events), "p75")] == [5]
    strict = load(
        tmp_path,
        detection("req", {"kind": "request"}),
        correlation("p75", "value_percentile", ["req"], ["host.name"], "1h", {**condition, "gte": 40.5}),
    )
    assert of(run(strict, events), "p75") == []


# --- condition operators --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "hits", "expected_count"),
    [
        ({"gt": 2}, 2, None),
        ({"gt": 2}, 3, 3),
        ({"gte": 3}, 2, None),
        ({"gte": 3}, 3, 3),
        ({"gte": 3}, 5, 3),  # fires as soon as it holds; the two after it start a new window
        ({"eq": 3}, 3, 3),
        ({"eq": 3}, 2, None),
        ({"gt": 2, "lte": 4}, 2, None),
        ({"gt": 2, "lte": 4}, 3, 3),
        pytest.param({"lt": 3}, 5, None),
        pytest.param({"lt": 3}, 2, 2),
        pytest.param({"lte": 2}, 3, None),
        pytest.param({"lte": 2}, 2, 2),
        pytest.param({"eq": 3}, 4, None),
        pytest.param({"neq": 3}, 3, None),
        pytest.param({"neq": 3}, 2, 2),
        pytest.param({"gt": 2, "lte": 4}, 6, None),
    ],
    ids=lambda v: "-".join(f"{k}{n}" for k, n in v.items()) if isinstance(v, dict) else str(v),
)
def test_condition_operators(tmp_path: Path, condition: dict[str, int], hits: int, expected_count: int | None) -> None:
    """`hits` hits of one group in one timespan, closed by a later hit of another group that moves the watermark past
    it, alert once with that count exactly when the condition holds for it."""
    rules = load(
        tmp_path,
        detection("hit", {"kind": "hit"}),
        correlation("count", "event_count", ["hit"], ["user.name"], "1m", condition),
    )
    events = [event(i, {"kind": "hit"}, user="alice") for i in range(hits)]
    events.append(event(3600, {"kind": "hit"}, user="closer"))
    alerts = [a for a in of(run(rules, events), "count") if a.group == {"user.name": "alice"}]
    assert [a.count for a in alerts] == ([] if expected_count is None else [expected_count])


def test_range_condition_keeps_both_bounds(tmp_path: Path) -> None:
    """A range (`gt: 100` with `lte: 200`) loads whole, although pySigma accepts only one operator."""
    rules = load(
        tmp_path,
        detection("hit", {"kind": "hit"}),
        correlation("range", "event_count", ["hit"], ["user.name"], "1h", {"gt": 100, "lte": 200}),
    )
    (compiled,) = rules.correlations.values()
    assert compiled.condition.holds(101) and compiled.condition.holds(200)
    assert not compiled.condition.holds(100) and not compiled.condition.holds(201)


# --- aliases ----------------------------------------------------------------------------------


def _alias_rules(folder: Path, corpus: Path) -> RuleSet:
    """The specification's aliases example, read in place; ids, titles and a logsource added to make it loadable."""
    examples = "spec-examples"
    internal = corpus_document(corpus, f"{examples}/aliases_rule_internal_error.yml")
    network = corpus_document(corpus, f"{examples}/aliases_rule_new_network_connection.yml")
    temporal = corpus_document(corpus, f"{examples}/aliases_correlation_temporal.yml", id=uid("aliases"))
    temporal["title"] = "internal error then connection back"
    documents = [temporal]
    for document in (internal, network):
        documents.append(
            {"title": document["name"], "id": uid(document["name"]), "logsource": {"product": "test"}, **document}
        )
    return load(folder, *documents)


def test_aliases_group_different_fields_under_one_name(tmp_path: Path, corpus: Path) -> None:
    """With the spec's aliases, an internal error to 10.0.0.5 from 203.0.113.7 and a connection from 10.0.0.5 to
    203.0.113.7 are one group {internal_ip, remote_ip} and the temporal correlation fires."""
    rules = _alias_rules(tmp_path, corpus)
    source = LogSource(product="test")
    http = {"http": {"response": {"status_code": 500}}}
    error = Event.model_validate(
        {
            "id": "err",
            "time": T0,
            "ingested": T0,
            "logsource": {"product": "test"},
            "source": {"ip": "203.0.113.7"},
            "destination": {"ip": "10.0.0.5"},
            **http,
        }
    )
    network = EventInfo(module="test", category=["network"], outcome="success", type="connection")
    connection = event(5, logsource=source, source_ip="10.0.0.5", destination_ip="203.0.113.7", info=network)
    (alert,) = of(run(rules, [error, connection]), "aliases")
    assert alert.group == {"internal_ip": "10.0.0.5", "remote_ip": "203.0.113.7"}
    assert alert.event_ids == ["err", connection.id]


def test_aliases_do_not_join_unrelated_addresses(tmp_path: Path, corpus: Path) -> None:
    """The same two events with the connection's addresses the other way round are two groups: no alert."""
    rules = _alias_rules(tmp_path, corpus)
    source = LogSource(product="test")
    error = Event.model_validate(
        {
            "id": "err",
            "time": T0,
            "ingested": T0,
            "logsource": {"product": "test"},
            "source": {"ip": "203.0.113.7"},
            "destination": {"ip": "10.0.0.5"},
            "http": {"response": {"status_code": 500}},
        }
    )
    network = EventInfo(module="test", category=["network"], outcome="success", type="connection")
    connection = event(5, logsource=source, source_ip="203.0.113.7", destination_ip="10.0.0.5", info=network)
    assert of(run(rules, [error, connection]), "aliases") == []


# --- chaining ---------------------------------------------------------------------------------

CHAIN = "spec-examples/example_failed_logins_followed_by_successful_login.yml"
OUTER_ID = "b180ead8-d58f-40b2-ae54-c8940995b9b6"
WINDOWS = LogSource(product="windows", service="security")


def _logins(user: str, codes: list[int], start: float = 0.0, step: float = 20.0) -> list[Event]:
    return [event(start + i * step, {"EventID": c, "User": user}, logsource=WINDOWS) for i, c in enumerate(codes)]


def test_chained_correlation_from_the_specification(corpus: Path) -> None:
    """The spec example, loaded unmodified: ten failures then a success of one user raise the outer alert only."""
    rules = RuleSet.load([corpus / SPEC / CHAIN])
    assert rules.errors == []
    events = _logins("bob", [4625] * 10 + [4624])
    alerts = run(rules, events)
    assert [a.rule.id for a in alerts] == [OUTER_ID]
    (alert,) = alerts
    assert alert.group == {"User": "bob"}
    assert alert.rule.level == "high"
    assert set(alert.event_ids) == {e.id for e in events}


@pytest.mark.parametrize(
    "codes",
    [[4625] * 9 + [4624], [4625] * 9 + [4624, 4625], [4624] + [4625] * 10],
    ids=["nine-failures", "success-before-the-tenth", "success-first"],
)
def test_chained_correlation_needs_the_inner_one_first(corpus: Path, codes: list[int]) -> None:
    """The outer temporal_ordered fires only when the inner event_count completed before the successful login."""
    rules = RuleSet.load([corpus / SPEC / CHAIN])
    assert run(rules, _logins("bob", codes)) == []


def test_chained_correlation_keeps_users_apart(corpus: Path) -> None:
    """Ten failures of one user and a success of another do not chain."""
    rules = RuleSet.load([corpus / SPEC / CHAIN])
    assert run(rules, [*_logins("bob", [4625] * 10), *_logins("alice", [4624], start=300)]) == []


def test_chained_correlation_by_id(tmp_path: Path) -> None:
    """A correlation may reference another correlation by its id as well as by its name."""
    rules = load(
        tmp_path,
        detection("fail", {"kind": "fail"}),
        detection("ok", {"kind": "ok"}),
        correlation("burst", "event_count", ["fail"], ["user.name"], "10m", {"gte": 2}),
        correlation("outer", "temporal_ordered", [uid("burst"), uid("ok")], ["user.name"], "10m"),
    )
    events = [event(i, {"kind": k}, user="bob") for i, k in enumerate(["fail", "fail", "ok"])]
    assert [a.rule.id for a in run(rules, events)] == [uid("outer")]


def test_chained_alert_counts_and_spans_every_event(corpus: Path) -> None:
    """The outer alert of a chain counts every event behind it and is first seen at the first of them."""
    rules = RuleSet.load([corpus / SPEC / CHAIN])
    events = _logins("bob", [4625] * 10 + [4624])
    (alert,) = run(rules, events)
    assert len(alert.event_ids) == 11
    assert alert.count == 11
    assert (alert.first_seen, alert.last_seen) == (events[0].time, events[-1].time)


def test_suppressed_inner_alert_still_feeds_the_outer_correlation(tmp_path: Path) -> None:
    """Suppression holds back an alert, not the evidence: a suppressed inner correlation still feeds its parent."""
    rules = load(
        tmp_path,
        detection("fail", {"kind": "fail"}),
        detection("ok", {"kind": "ok"}),
        correlation("burst", "event_count", ["fail"], ["user.name"], "10m", {"gte": 2}, suppress="1h"),
        with_generate(
            correlation("outer", "event_count", ["burst"], ["user.name"], "1h", {"gte": 2}), "in-correlation"
        ),
    )
    alerts = run(rules, [event(i, {"kind": "fail"}, user="bob") for i in range(4)])
    assert [a.rule.id for a in alerts] == [uid("burst"), uid("outer")]


# --- generate ---------------------------------------------------------------------------------


def test_generate_false_silences_the_referenced_rules(tmp_path: Path) -> None:
    """By default (generate: false) referenced rules raise no alert of their own; an unreferenced rule does."""
    rules = load(
        tmp_path,
        detection("fail", {"kind": "fail"}),
        detection("other", {"kind": "fail"}),
        correlation("burst", "event_count", ["fail"], ["user.name"], "10m", {"gte": 2}),
    )
    alerts = run(rules, [event(i, {"kind": "fail"}, user="bob") for i in range(2)])
    assert sorted(a.rule.id for a in alerts) == sorted([uid("other"), uid("other"), uid("burst")])


def with_generate(document: dict[str, Any], place: str) -> dict[str, Any]:
    """`generate: true` where the spec's JSON schema has it (top level) or where pySigma reads it (in `correlation`)."""
    if place == "top-level":
        return {**document, "generate": True}
    return {**document, "correlation": {**document["correlation"], "generate": True}}


@pytest.mark.parametrize(
    "place",
    ["top-level", "in-correlation"],
)
def test_generate_true_keeps_the_referenced_rules_alerting(tmp_path: Path, place: str) -> None:
    """With generate: true every match of a referenced rule is an alert too, besides the correlation's own."""
    burst = correlation("burst", "event_count", ["fail"], ["user.name"], "10m", {"gte": 2})
    rules = load(tmp_path, detection("fail", {"kind": "fail"}), with_generate(burst, place))
    alerts = run(rules, [event(i, {"kind": "fail"}, user="bob") for i in range(2)])
    assert [a.rule.id for a in alerts] == [uid("fail"), uid("fail"), uid("burst")]


def test_generate_true_in_any_referencing_correlation_wins(tmp_path: Path) -> None:
    """A rule referenced by one correlation with generate: true and one without still alerts on its own."""
    rules = load(
        tmp_path,
        detection("fail", {"kind": "fail"}),
        correlation("quiet", "event_count", ["fail"], ["user.name"], "10m", {"gte": 5}),
        with_generate(correlation("loud", "event_count", ["fail"], ["host.name"], "10m", {"gte": 5}), "in-correlation"),
    )
    assert [a.rule.id for a in run(rules, [event(0, {"kind": "fail"}, user="bob")])] == [uid("fail")]


def test_generate_false_silences_an_inner_correlation(tmp_path: Path) -> None:
    """A correlation referenced by another one (generate: false) raises no alert of its own."""
    rules = load(
        tmp_path,
        detection("fail", {"kind": "fail"}),
        detection("ok", {"kind": "ok"}),
        correlation("burst", "event_count", ["fail"], ["user.name"], "10m", {"gte": 2}),
        correlation("outer", "temporal_ordered", ["burst", "ok"], ["user.name"], "10m"),
    )
    assert run(rules, [event(i, {"kind": "fail"}, user="bob") for i in range(2)]) == []


# --- late events --------------------------------------------------------------------------------


def _late_hits() -> float:
    return REGISTRY.get_sample_value("siem_late_hits_total") or 0.0


def test_late_hit_is_counted_and_not_used(tmp_path: Path) -> None:
    """A hit older than the watermark (newest event time − allowed lateness) is counted late and never fires."""
    rules = burst_rules(tmp_path)
    pipeline = InProcessPipeline(rules, lateness_seconds=5)
    before = _late_hits()
    assert pipeline.feed(event(100, {"kind": "fail"}, user="bob")) == []
    assert pipeline.feed(event(94.999, {"kind": "fail"}, user="bob")) == []  # 0.001 s behind the watermark
    assert pipeline.late == 1
    assert _late_hits() == before + 1
    (alert,) = pipeline.feed(event(95, {"kind": "fail"}, user="bob", event_id="on-time"))  # on the watermark
    assert alert.count == 2 and "on-time" in alert.event_ids
    assert pipeline.late == 1


def test_watermark_is_shared_by_every_group_of_a_partition(tmp_path: Path) -> None:
    """The watermark follows the newest hit of the partition, so a late hit of another group is late too."""
    rules = burst_rules(tmp_path)
    pipeline = InProcessPipeline(rules, lateness_seconds=5)
    pipeline.feed(event(100, {"kind": "fail"}, user="bob"))
    pipeline.feed(event(10, {"kind": "fail"}, user="alice"))
    pipeline.feed(event(11, {"kind": "fail"}, user="alice"))
    assert pipeline.late == 2


def test_observe_flags_a_late_hit(tmp_path: Path) -> None:
    """CorrelationEngine.observe returns `late` for a hit behind the watermark, so the stage can dead-letter it."""
    rules = burst_rules(tmp_path)
    engine = CorrelationEngine(rules, lateness_seconds=1)

    def hit(seconds: float) -> Hit:
        return Hit(
            correlation=uid("burst"),
            rule=uid("fail"),
            time=T0 + timedelta(seconds=seconds),
            event_ids=[f"h{seconds}"],
            group={"user.name": "bob"},
        )

    assert not engine.observe(hit(50)).late
    late = engine.observe(hit(48))
    assert late.late and late.alerts == [] and late.hits == []
    assert not engine.observe(hit(49)).late
    assert engine.watermark(0) == (T0 + timedelta(seconds=49)).timestamp()


def test_watermark_is_per_partition(tmp_path: Path) -> None:
    """A newer hit on one partition of siem.hits does not make older hits of another partition late."""
    rules = burst_rules(tmp_path)
    engine = CorrelationEngine(rules, lateness_seconds=0)

    def hit(seconds: float, user: str) -> Hit:
        moment = T0 + timedelta(seconds=seconds)
        return Hit(correlation=uid("burst"), rule=uid("fail"), time=moment, event_ids=[f"{user}{seconds}"], group={})

    engine.observe(hit(1000, "a"), partition=1)
    assert not engine.observe(hit(1, "b"), partition=0).late
    (alert,) = engine.observe(hit(2, "b"), partition=0).alerts
    assert alert.event_ids == ["b1", "b2"]
    assert engine.observe(hit(999, "a"), partition=1).late


def test_forgotten_partition_starts_empty(tmp_path: Path) -> None:
    """After `forget`, a partition's windows and watermark are gone: old hits are not late and old counts are lost."""
    rules = burst_rules(tmp_path)
    engine = CorrelationEngine(rules, lateness_seconds=0)

    def hit(seconds: float) -> Hit:
        moment = T0 + timedelta(seconds=seconds)
        return Hit(correlation=uid("burst"), rule=uid("fail"), time=moment, event_ids=[f"e{seconds}"], group={})

    engine.observe(hit(100), partition=3)
    assert engine.open_windows() == 1
    engine.forget({3})
    assert engine.open_windows() == 0
    first = engine.observe(hit(50), partition=3)
    assert not first.late and first.alerts == []
    assert [a.event_ids for a in engine.observe(hit(51), partition=3).alerts] == [["e50", "e51"]]


def test_windows_past_their_timespan_are_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Groups never seen again do not stay in memory: a sweep drops windows older than watermark − timespan."""
    import services.correlator.correlate as correlate

    monkeypatch.setattr(correlate, "_SWEEP_EVERY", 10)
    rules = burst_rules(tmp_path)
    engine = CorrelationEngine(rules, lateness_seconds=0)

    def hit(seconds: float, user: str) -> Hit:
        moment = T0 + timedelta(seconds=seconds)
        return Hit(
            correlation=uid("burst"),
            rule=uid("fail"),
            time=moment,
            event_ids=[f"{user}@{seconds}"],
            group={"user.name": user},
        )

    for n in range(100):
        engine.observe(hit(n * 60, f"user{n}"))  # one a minute, each its own group; the timespan is 10 minutes
    assert engine.open_windows() <= 10 + 11  # at most a sweep's worth beyond the 11 still in their timespan
    (alert,) = engine.observe(hit(99 * 60 + 600, "user99")).alerts  # the newest is still there, to the second
    assert alert.event_ids == ["user99@5940", "user99@6540"]


def test_redelivered_event_counts_once(tmp_path: Path) -> None:
    """The same event (same id) seen twice is one event to an event_count correlation."""
    rules = burst_rules(tmp_path)
    once = event(0, {"kind": "fail"}, user="bob", event_id="delivery-1")
    assert run(rules, [once, once]) == []


def test_alert_lists_at_most_max_event_ids_but_counts_all(tmp_path: Path) -> None:
    """An alert over more than MAX_EVENT_IDS events lists the first MAX_EVENT_IDS and counts them all."""
    from services.correlator.correlate import MAX_EVENT_IDS

    rules = load(
        tmp_path,
        detection("fail", {"kind": "fail"}),
        correlation("flood", "event_count", ["fail"], ["user.name"], "1h", {"gte": MAX_EVENT_IDS + 5}),
    )
    events = [event(i, {"kind": "fail"}, user="bob") for i in range(MAX_EVENT_IDS + 5)]
    (alert,) = run(rules, events)
    assert alert.count == MAX_EVENT_IDS + 5
    assert alert.event_ids == [e.id for e in events[:MAX_EVENT_IDS]]


# --- determinism ------------------------------------------------------------------------------


def test_same_input_gives_the_same_alert_ids(tmp_path: Path, corpus: Path) -> None:
    """Two fresh pipelines fed the same events raise alerts with the same ids, in the same order."""
    rules = RuleSet.load([corpus / SPEC / CHAIN])
    events = _logins("bob", [4625] * 10 + [4624]) + _logins("carol", [4625] * 12 + [4624], start=30)
    events.sort(key=lambda e: e.time)
    first = run(rules, events)
    second = run(RuleSet.load([corpus / SPEC / CHAIN]), events)
    assert len(first) == 2
    assert [a.id for a in first] == [a.id for a in second]
    assert first == second


def test_alert_id_depends_on_the_evidence(tmp_path: Path) -> None:
    """The same rule and group over different events gives a different alert id."""
    rules = burst_rules(tmp_path)
    alerts = run(rules, [event(i, {"kind": "fail"}, user="bob") for i in range(4)])
    assert len(alerts) == 2 and alerts[0].id != alerts[1].id


# --- suppression ------------------------------------------------------------------------------


def _suppressed(rule_id: str) -> float:
    return REGISTRY.get_sample_value("siem_alerts_suppressed_total", {"rule_id": rule_id}) or 0.0


def test_rule_suppress_period_is_event_time(tmp_path: Path) -> None:
    """With `suppress: 10m`, a second alert 9m59s later (event time) is held back and counted; 10m later it is not."""
    rules = load(tmp_path, detection("noisy", {"kind": "x"}, suppress="10m"))
    before = _suppressed(uid("noisy"))
    alerts = run(rules, [event(s, {"kind": "x"}) for s in (0, 599, 600)])
    assert [a.first_seen for a in alerts] == [T0, T0 + timedelta(seconds=600)]
    assert _suppressed(uid("noisy")) == before + 1


def test_correlation_suppression_is_per_group(tmp_path: Path) -> None:
    """A correlation's `suppress` quiets the same group only; another group still alerts."""
    rules = load(
        tmp_path,
        detection("fail", {"kind": "fail"}),
        correlation("burst", "event_count", ["fail"], ["user.name"], "10m", {"gte": 2}, suppress="1h"),
    )
    users = ["bob", "bob", "bob", "bob", "alice", "alice"]
    alerts = run(rules, [event(i, {"kind": "fail"}, user=u) for i, u in enumerate(users)])
    assert [a.group for a in alerts] == [{"user.name": "bob"}, {"user.name": "alice"}]


def test_engine_default_suppression_and_rule_override(tmp_path: Path) -> None:
    """The engines' suppress_seconds default quiets every rule, except one whose own `suppress: 0s` turns it off."""
    rules = load(
        tmp_path,
        detection("quiet", {"kind": "x"}),
        detection("always", {"kind": "x"}, suppress="0s"),
        detection("fail", {"kind": "fail"}),
        correlation("burst", "event_count", ["fail"], ["user.name"], "10m", {"gte": 1}),
    )
    pipeline = InProcessPipeline(rules, 0)
    pipeline.detection = DetectionEngine(rules, suppress_seconds=300)
    pipeline.correlation = CorrelationEngine(rules, 0, suppress_seconds=300)
    events = [event(s, {"kind": "x"}) for s in (0, 10, 300)] + [event(s, {"kind": "fail"}, user="bob") for s in (0, 10)]
    events.sort(key=lambda e: e.time)
    alerts = [a for e in events for a in pipeline.feed(e)]
    seen = [(a.rule.id, a.first_seen) for a in alerts]
    at = [T0, T0 + timedelta(seconds=10), T0 + timedelta(seconds=300)]
    assert [t for r, t in seen if r == uid("quiet")] == [at[0], at[2]]
    assert [t for r, t in seen if r == uid("always")] == at
    assert [t for r, t in seen if r == uid("burst")] == [at[0]]


# --- enrichment -------------------------------------------------------------------------------


def test_correlation_alert_is_enriched_from_its_own_rule(tmp_path: Path) -> None:
    """A correlation alert carries its own level as severity and risk score, and ATT&CK names from its tags."""
    tags = ["attack.credential-access", "attack.t1110", "attack.t1110.001"]
    rules = load(
        tmp_path,
        detection("fail", {"kind": "fail"}, level="low", tags=["attack.t1078"]),
        correlation("burst", "event_count", ["fail"], ["user.name"], "10m", {"gte": 2}, level="high", tags=tags),
    )
    (alert,) = run(rules, [event(i, {"kind": "fail"}, user="bob") for i in range(2)])
    assert alert.rule.id == uid("burst")
    assert (alert.severity, alert.risk_score) == ("high", 73)
    assert alert.attack == [
        Technique(id="T1110", name="Brute Force", tactics=["Credential Access"]),
        Technique(id="T1110.001", name="Password Guessing", tactics=["Credential Access"]),
    ]
    assert alert.rule.tags == tags
    assert alert.hunt.startswith('{module="test"}')
    ids = re.search(r"id=~`([^`]*)`", alert.hunt)  # a raw LogQL string: the pattern as written
    assert ids is not None
    pattern = ids.group(1)
    assert all(re.fullmatch(pattern, e) for e in alert.event_ids)
    assert not re.fullmatch(pattern, "ev-unrelated")


@pytest.mark.parametrize(
    ("level", "severity", "risk"),
    [("informational", "info", 0), ("low", "low", 21), ("medium", "medium", 47), ("critical", "critical", 99)],
)
def test_correlation_level_maps_to_severity(tmp_path: Path, level: str, severity: str, risk: int) -> None:
    """Every Sigma level of a correlation maps to its severity and 0-100 risk score."""
    rules = load(
        tmp_path,
        detection("fail", {"kind": "fail"}),
        correlation("burst", "event_count", ["fail"], ["user.name"], "10m", {"gte": 1}, level=level),
    )
    (alert,) = run(rules, [event(0, {"kind": "fail"}, user="bob")])
    assert (alert.severity, alert.risk_score) == (severity, risk)


# --- logsource ----------------------------------------------------------------------------------


def test_hits_come_only_from_the_rules_logsource(tmp_path: Path) -> None:
    """Events of another logsource matching the same selection feed no correlation."""
    rules = burst_rules(tmp_path)
    other = LogSource(product="other")
    assert run(rules, [event(i, {"kind": "fail"}, user="bob", logsource=other) for i in range(3)]) == []


def test_a_correlation_alert_ends_when_its_window_closes_or_its_suppression_ends(tmp_path: Path) -> None:
    """ends_at is the fired window's close (first hit + timespan), or the end of suppression when that is later."""
    plain = burst_rules(tmp_path)
    (alert,) = run(plain, [event(i, {"kind": "fail"}, user="bob") for i in range(2)])
    assert alert.ends_at == alert.first_seen + timedelta(minutes=10)
    quiet = tmp_path / "quiet"
    quiet.mkdir()
    suppressed = load(
        quiet,
        detection("fail", {"kind": "fail"}),
        correlation("burst", "event_count", ["fail"], ["user.name"], "10m", {"gte": 2}, suppress="1h"),
    )
    (alert,) = run(suppressed, [event(i, {"kind": "fail"}, user="bob") for i in range(2)])
    assert alert.ends_at == alert.last_seen + timedelta(hours=1)
