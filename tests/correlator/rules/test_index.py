"""The rule index finds every rule that could match, and skips the rest, by equality or by substring."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.correlator.rules.index import RuleIndex
from services.correlator.rules.loader import load_rules
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
