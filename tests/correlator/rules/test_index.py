"""The rule index finds every rule that could match, and skips the rest, by equality or by substring."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.correlator.rules.index import RuleIndex, _text
from services.correlator.rules.loader import load_rules
from services.correlator.rules.values import as_number
from services.shared.alert import RuleRef
from services.shared.envelope import Envelope, FieldReader
from services.shared.event import Event, LogSource

T0 = datetime(2026, 11, 26, tzinfo=UTC)


def _rules(tmp_path: Path, *detections: str) -> RuleIndex:
    for number, detection in enumerate(detections):
        (tmp_path / f"r{number}.yml").write_text(
            f"title: Rule {number}\nid: 00000000-0000-4000-8000-{number:012d}\n"
            f"logsource: {{product: linux}}\ndetection:\n{detection}\nlevel: low\n"
        )
    loaded = load_rules([tmp_path])
    assert not loaded.errors, loaded.errors
    return RuleIndex(loaded.rules)


def _candidates(index: RuleIndex, raw: dict[str, Any], message: str | None = None) -> list[str]:
    event = Event(id="e", time=T0, ingested=T0, raw=raw, message=message, logsource=LogSource(product="linux"))
    return [rule.ref.title for rule in index.candidates(event.logsource, FieldReader(Envelope.of(event)))]


def test_a_substring_rule_is_a_candidate_only_when_its_literal_is_in_the_field(tmp_path: Path) -> None:
    """`contains`, `startswith`, `endswith`, wildcards and keywords are found by their longest literal, any case."""
    index = _rules(
        tmp_path,
        "  sel: {cmd|contains: wget}\n  condition: sel",
        "  sel: {cmd|startswith: /tmp/}\n  condition: sel",
        "  sel: {cmd|endswith: sh}\n  condition: sel",  # too short to index: always a candidate
        "  sel: {cmd: 'curl*|*bash'}\n  condition: sel",
        "  keywords: [mimikatz]\n  condition: keywords",
    )
    assert _candidates(index, {"cmd": "sudo WGET http://x"}) == ["Rule 0", "Rule 2"]
    assert _candidates(index, {"cmd": "/TMP/x"}) == ["Rule 1", "Rule 2"]
    assert _candidates(index, {"cmd": "curl http://x | bash"}) == ["Rule 2", "Rule 3"]
    assert _candidates(index, {}, message="found Mimikatz.exe") == ["Rule 2", "Rule 4"]
    assert _candidates(index, {"cmd": ["ls", "wget"]}) == ["Rule 0", "Rule 2"]  # any element of a list


def test_an_or_is_indexed_only_when_every_branch_is(tmp_path: Path) -> None:
    """`a or b` needs a key from each branch; with a NOT branch it must always be tried."""
    index = _rules(
        tmp_path,
        "  a: {user: root}\n  b: {cmd|contains: passwd}\n  condition: a or b",
        "  a: {user: root}\n  b: {cmd|contains: passwd}\n  condition: a or not b",
    )
    assert _candidates(index, {"user": "ROOT"}) == ["Rule 0", "Rule 1"]
    assert _candidates(index, {"cmd": "cat /etc/passwd"}) == ["Rule 0", "Rule 1"]
    assert _candidates(index, {"user": "alice"}) == ["Rule 1"]


@pytest.mark.parametrize(
    "raw",
    [{"cmd": "wget http://x"}, {"cmd": "curl | bash", "user": "root"}, {"user": "Root"}, {"cmd": None}, {}],
)
def test_the_index_never_hides_a_match(tmp_path: Path, raw: dict[str, Any]) -> None:
    """Every rule that matches an event is among its candidates (the index only ever skips non-matches)."""
    index = _rules(
        tmp_path,
        "  sel: {cmd|contains: wget}\n  condition: sel",
        "  sel: {user: root, cmd|contains|all: [curl, bash]}\n  condition: sel",
        "  a: {user: root}\n  f: {cmd|contains: wget}\n  condition: a and not f",
        "  sel: {cmd: null}\n  condition: sel",
    )
    event = Event(id="e", time=T0, ingested=T0, raw=raw, logsource=LogSource(product="linux"))
    reader = FieldReader(Envelope.of(event))
    matching = [r.ref.title for r in index.rules if r.matches(reader)]
    candidates = _candidates(index, raw)
    assert set(matching) <= set(candidates)


@pytest.mark.parametrize("code", [401, "401", 401.0, " 401 ", "4.01e2", [200, 401], 403, "401x", True, None, []])
def test_a_number_rule_is_a_candidate_for_every_way_of_writing_its_number(tmp_path: Path, code: Any) -> None:
    """Numbers are indexed by value: however the event writes 401, a rule wanting 401 is tried; others are not."""
    index = _rules(
        tmp_path, "  sel: {responseStatus.code: [401, 403]}\n  condition: sel", "  sel: {code: 7}\n  condition: sel"
    )
    raw = {"responseStatus": {"code": code}}
    event = Event(id="e", time=T0, ingested=T0, raw=raw, logsource=LogSource(product="linux"))
    reader = FieldReader(Envelope.of(event))
    matching = [r.ref.title for r in index.rules if r.matches(reader)]
    assert _candidates(index, raw) == matching
    assert matching == (["Rule 0"] if code not in ("401x", True, None, []) else [])


# Drawn rule sets: logsources from small pools (None = left open), requirements over a few fields.
# The pools are small so that rules of different groups often share a field and a key.
_PRODUCTS, _SERVICES = st.sampled_from([None, "linux"]), st.sampled_from([None, "audit"])
_CATEGORIES = st.sampled_from([None, "application"])
_FIELDS = st.sampled_from(["a", "b.c", "message"])
_TEXTS = st.sampled_from(["ab", "abc", "Ab", "abcab", "401", "4.01e2", "true", "É"])
_KEYS = st.one_of(
    st.tuples(st.just("eq"), _FIELDS, _TEXTS.map(str.casefold)),
    st.tuples(st.just("num"), _FIELDS, st.sampled_from([401.0, 7.0, -1.0])),
    st.tuples(st.just("sub"), _FIELDS, _TEXTS.map(str.casefold)),
)
_NUMBERS = st.sampled_from([401, 401.0, 7, -1])
_VALUES = st.one_of(st.none(), st.booleans(), _NUMBERS, _TEXTS, st.lists(_TEXTS, max_size=3))


@dataclass(frozen=True)
class _Rule:
    """What the index reads of a rule: its logsource, what it requires and the names it reads."""

    number: int
    logsource: LogSource
    index_keys: frozenset[tuple[str, str, Any]] | None
    fields: frozenset[str] = frozenset()

    @property
    def ref(self) -> RuleRef:
        return RuleRef(id=f"r{self.number}", title=f"Rule {self.number}", level="low")


_RULE = st.builds(
    lambda logsource, keys: (logsource, keys),
    st.builds(LogSource, product=_PRODUCTS, service=_SERVICES, category=_CATEGORIES),
    st.one_of(st.none(), st.frozensets(_KEYS, min_size=1, max_size=3)),
)


def _may_match(rule: _Rule, reader: FieldReader, logsource: LogSource) -> bool:
    """What the index promises, said plainly: the rule's logsource fits and one of its requirements is met."""
    for attribute in ("product", "service", "category"):
        if getattr(rule.logsource, attribute) not in (None, getattr(logsource, attribute)):
            return False
    if rule.index_keys is None:
        return True
    for kind, name, key in rule.index_keys:
        value = reader.get(name)
        items = value if isinstance(value, list) else [value]
        texts = [_text(item).casefold() for item in items if item is not None]
        if kind == "eq" and key in texts:
            return True
        if kind == "num" and key in [n for item in items if (n := as_number(item)) is not None]:
            return True
        if kind == "sub" and any(key in text for text in texts):
            return True
    return False


@settings(max_examples=500, deadline=None)
@given(
    drawn=st.lists(_RULE, min_size=1, max_size=12),
    logsource=st.builds(LogSource, product=_PRODUCTS, service=_SERVICES, category=_CATEGORIES),
    raw=st.dictionaries(_FIELDS, _VALUES, max_size=3),
    message=st.one_of(st.none(), _TEXTS),
)
def test_merged_plans_find_what_each_group_alone_promises(
    drawn: list[tuple[LogSource, Any]], logsource: LogSource, raw: dict[str, Any], message: str | None
) -> None:
    """For drawn rule sets and events, the candidates are the rules whose logsource and requirements fit, in rule order.

    And so are those of a logsource past the bound on remembered ones, looked up group by group.
    """
    rules = [_Rule(n, source, keys) for n, (source, keys) in enumerate(drawn)]
    event = Event(id="e", time=T0, ingested=T0, raw=raw, message=message, logsource=logsource)
    envelope = Envelope.of(event)
    expected = [r.number for r in rules if _may_match(r, FieldReader(envelope), logsource)]
    index = RuleIndex(rules)  # type: ignore[arg-type]  # the index reads only what _Rule has
    assert [r.number for r in index.candidates(envelope.logsource, FieldReader(envelope))] == expected
    past_bound = RuleIndex(rules)  # type: ignore[arg-type]
    with patch("services.correlator.rules.index._MAX_REMEMBERED_LOGSOURCES", 0):
        assert [r.number for r in past_bound.candidates(envelope.logsource, FieldReader(envelope))] == expected


_ALIKE = st.sampled_from(
    [1, 1.0, True, "1", "true", 0, 0.0, -0.0, False, "-0.0", "0.0", None, [1], [], [True], "Ab", "ab", 2**70]
)


@settings(max_examples=300, deadline=None)
@given(
    drawn=st.lists(_RULE, min_size=1, max_size=12),
    logsource=st.builds(LogSource, product=_PRODUCTS, service=_SERVICES, category=_CATEGORIES),
    raws=st.lists(st.dictionaries(_FIELDS, st.one_of(_VALUES, _ALIKE), max_size=3), min_size=2, max_size=8),
)
def test_remembered_candidates_are_those_of_the_event_at_hand(
    drawn: list[tuple[LogSource, Any]], logsource: LogSource, raws: list[dict[str, Any]]
) -> None:
    """Events one after the other through one index each get their own candidates, values equal in Python or not.

    The index remembers candidates by the values of the fields it reads: 1, 1.0, True and "1" are
    different events to it, as are 0.0 and -0.0, and a repeated event gets what it got the first time.
    """
    rules = [_Rule(n, source, keys) for n, (source, keys) in enumerate(drawn)]
    index = RuleIndex(rules)  # type: ignore[arg-type]
    for raw in raws + raws:
        envelope = Envelope.of(Event(id="e", time=T0, ingested=T0, raw=raw, logsource=logsource))
        expected = [r.number for r in rules if _may_match(r, FieldReader(envelope), logsource)]
        assert [r.number for r in index.candidates(envelope.logsource, FieldReader(envelope))] == expected


def test_what_the_index_remembers_is_bounded(tmp_path: Path) -> None:
    """Senders choose the values: past the bound, what was remembered is dropped, and long texts are never kept."""
    index = _rules(tmp_path, "  sel: {user: root}\n  condition: sel")
    with patch("services.correlator.rules.index._MAX_REMEMBERED_VALUES", 3):
        for n in range(10):
            assert _candidates(index, {"user": f"u{n}"}) == []
            assert len(index._remembered) <= 3
    index._remembered.clear()
    assert _candidates(index, {"user": "root" + " " * 2000}) == []
    assert _candidates(index, {"user": "ROOT"}) == ["Rule 0"]
    assert len(index._remembered) == 1


def test_values_equal_in_python_are_told_apart_by_what_the_index_remembers(tmp_path: Path) -> None:
    """True == 1 == 1.0 and 0.0 == -0.0 in Python, yet each finds its own rules, whichever came first."""
    index = _rules(
        tmp_path,
        "  sel: {f: 'true'}\n  condition: sel",
        "  sel: {f: 1}\n  condition: sel",
        "  sel: {f: '1.0'}\n  condition: sel",
        "  sel: {f: '-0.0'}\n  condition: sel",
        "  sel: {f: '0.0'}\n  condition: sel",
    )
    values: list[Any] = [True, 1, 1.0, "1", -0.0, 0.0, "0.0", [1], ["true"], 2**70, "2**70"]
    for value in values + values[::-1]:
        alone = RuleIndex(index.rules)
        assert _candidates(index, {"f": value}) == _candidates(alone, {"f": value}), value


def test_a_rule_its_indexed_fields_decide_is_not_a_candidate_where_they_say_no(tmp_path: Path) -> None:
    """A condition reading only fields the plan reads (codegen.pure_in) is decided with the remembered candidates."""
    index = _rules(
        tmp_path,
        "  sel: {user: root}\n  condition: sel",
        "  sel: {user: [root, admin], shell: bash}\n  condition: sel",  # indexed by shell, decided by user too
        "  sel: {shell: bash, cmd|contains: wget}\n  condition: sel",  # reads cmd, which the plan does not
    )
    assert _candidates(index, {"user": "alice", "shell": "bash"}) == ["Rule 2"]
    assert _candidates(index, {"user": "alice", "shell": "bash"}) == ["Rule 2"]  # as remembered
    assert _candidates(index, {"user": "ADMIN", "shell": "bash"}) == ["Rule 1", "Rule 2"]
    assert _candidates(index, {"user": "root", "shell": "bash"}) == ["Rule 0", "Rule 1", "Rule 2"]


def test_a_rule_its_indexed_fields_decide_true_is_not_run_again_for_the_combination(tmp_path: Path) -> None:
    """A candidate decided true is the rule's twin, answering at once; a rule reading other fields is run as itself."""
    index = _rules(
        tmp_path,
        "  sel: {user: root}\n  condition: sel",
        "  sel: {shell: bash, cmd|contains: wget}\n  condition: sel",  # reads cmd, which the plan does not
    )
    event = Event(id="e", time=T0, ingested=T0, raw={"user": "root", "shell": "bash", "cmd": "ls"})
    envelope = Envelope.of(event.model_copy(update={"logsource": LogSource(product="linux")}))
    for _ in range(2):  # deciding, then as remembered
        decided, run = index.candidates(envelope.logsource, FieldReader(envelope))
        assert (decided.ref, decided.location) == (index.rules[0].ref, index.rules[0].location)
        assert decided.matches is not index.rules[0].matches and decided.matches(FieldReader(envelope)) is True
        assert run is index.rules[1]
        assert run.matches(FieldReader(envelope)) is False
