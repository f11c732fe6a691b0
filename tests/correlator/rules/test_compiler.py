"""Compiled Sigma detections: value matching, modifiers, conditions, keywords, logsource routing, engine isolation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.correlator.rules.compiler import CompiledRule
from services.correlator.rules.loader import load_rules
from services.shared.alert import RuleRef
from services.shared.envelope import Envelope, FieldReader
from services.shared.event import Event, LogSource

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
RULE_ID = "5d0b3f2e-1c2a-4d7e-9a6b-3f1e2d4c5b6a"


def _compile(tmp_path: Path, detection: str, logsource: str = "product: linux") -> CompiledRule:
    """Write one rule with this detection block (YAML, indented by two) and load it."""
    header = f"title: Test rule\nid: {RULE_ID}\nlevel: high\ntags:\n  - attack.t1110\n"
    text = f"{header}logsource:\n  {logsource}\ndetection:\n{detection}"
    (tmp_path / "rule.yml").write_text(text)
    loaded = load_rules([tmp_path])
    assert loaded.errors == []
    (rule,) = loaded.rules
    return rule


def _event(raw: Any = None, message: str | None = None, logsource: LogSource | None = None) -> Event:
    return Event(
        id="e1", time=T0, ingested=T0, raw=raw, message=message, logsource=logsource or LogSource(product="linux")
    )


def _matches(rule: CompiledRule, raw: Any = None, message: str | None = None) -> bool:
    return rule.matches(FieldReader(Envelope.of(_event(raw, message))))


def test_rule_metadata_is_carried(tmp_path: Path) -> None:
    """id, title, level and tags of the rule file end up in the compiled rule's reference."""
    rule = _compile(tmp_path, "  sel:\n    a: x\n  condition: sel\n")
    assert rule.ref == RuleRef(id=RULE_ID, title="Test rule", level="high", tags=["attack.t1110"])


def test_field_value_matches_case_insensitively(tmp_path: Path) -> None:
    """`field: value` matches the same text in any case, and only the whole value."""
    rule = _compile(tmp_path, "  sel:\n    CommandLine: whoami\n  condition: sel\n")
    assert _matches(rule, {"CommandLine": "WhoAmI"})
    assert not _matches(rule, {"CommandLine": "whoami /all"})
    assert not _matches(rule, {"Other": "whoami"})


def test_fields_of_one_selection_are_anded(tmp_path: Path) -> None:
    """Every field of a selection map must match."""
    rule = _compile(tmp_path, "  sel:\n    verb: delete\n    resource: pods\n  condition: sel\n")
    assert _matches(rule, {"verb": "delete", "resource": "pods"})
    assert not _matches(rule, {"verb": "delete", "resource": "secrets"})


def test_list_of_values_is_an_or(tmp_path: Path) -> None:
    """A list of values matches when any one of them does."""
    rule = _compile(tmp_path, "  sel:\n    verb:\n      - create\n      - delete\n  condition: sel\n")
    assert _matches(rule, {"verb": "create"}) and _matches(rule, {"verb": "delete"})
    assert not _matches(rule, {"verb": "get"})


@pytest.mark.parametrize(
    ("pattern", "yes", "no"),
    [
        ("'/etc/*'", "/etc/shadow", "/tmp/etc/x"),
        ("'ba?h'", "BASH", "baash"),
        ("'a.b*'", "a.bc", "axbc"),  # regex characters in a value are literal
    ],
)
def test_wildcards(tmp_path: Path, pattern: str, yes: str, no: str) -> None:
    """`*` matches any run of characters and `?` exactly one; other characters are literal."""
    rule = _compile(tmp_path, f"  sel:\n    path: {pattern}\n  condition: sel\n")
    assert _matches(rule, {"path": yes})
    assert not _matches(rule, {"path": no})


def test_numbers_match_numbers_and_numeric_text(tmp_path: Path) -> None:
    """A number matches the same number, as a JSON number or as text, and not a longer number."""
    rule = _compile(tmp_path, "  sel:\n    port: 22\n  condition: sel\n")
    assert _matches(rule, {"port": 22}) and _matches(rule, {"port": "22"})
    assert not _matches(rule, {"port": 222}) and not _matches(rule, {"port": "ssh"})


def test_null_matches_a_missing_or_null_field(tmp_path: Path) -> None:
    """`field: null` matches an absent or null field; an empty string is a value (Sigma: use '' for it)."""
    rule = _compile(tmp_path, "  sel:\n    user: null\n  condition: sel\n")
    assert _matches(rule, {}) and _matches(rule, {"user": None})
    assert not _matches(rule, {"user": "root"}) and not _matches(rule, {"user": ""})
    empty = _compile(tmp_path, "  sel:\n    user: ''\n  condition: sel\n")
    assert _matches(empty, {"user": ""}) and not _matches(empty, {})


@pytest.mark.parametrize(
    ("modifier", "yes", "no"),
    [
        ("contains", "xx-Mimikatz-yy", "mimi-katz"),
        ("startswith", "MIMIKATZ.exe", "a mimikatz"),
        ("endswith", "c:\\mimikatz", "mimikatz.exe"),
    ],
)
def test_string_modifiers(tmp_path: Path, modifier: str, yes: str, no: str) -> None:
    """|contains, |startswith and |endswith match anywhere, at the start, at the end (case-insensitively)."""
    rule = _compile(tmp_path, f"  sel:\n    cmd|{modifier}: mimikatz\n  condition: sel\n")
    assert _matches(rule, {"cmd": yes})
    assert not _matches(rule, {"cmd": no})


def test_contains_all_needs_every_value(tmp_path: Path) -> None:
    """|contains|all matches only when every listed value is present."""
    rule = _compile(tmp_path, "  sel:\n    cmd|contains|all:\n      - curl\n      - '| sh'\n  condition: sel\n")
    assert _matches(rule, {"cmd": "curl http://x | sh"})
    assert not _matches(rule, {"cmd": "curl http://x"})


def test_not_excludes_the_filter(tmp_path: Path) -> None:
    """`sel and not filter` matches the selection except where the filter matches."""
    rule = _compile(tmp_path, "  sel:\n    verb: delete\n  filter:\n    user: admin\n  condition: sel and not filter\n")
    assert _matches(rule, {"verb": "delete", "user": "mallory"})
    assert not _matches(rule, {"verb": "delete", "user": "admin"})


def test_one_of_pattern(tmp_path: Path) -> None:
    """`1 of sel*` matches when any selection named sel… matches; others are not considered."""
    detection = "  sel_a:\n    a: 1\n  sel_b:\n    b: 2\n  other:\n    c: 3\n  condition: 1 of sel*\n"
    rule = _compile(tmp_path, detection)
    assert _matches(rule, {"a": 1}) and _matches(rule, {"b": 2})
    assert not _matches(rule, {"c": 3})


def test_keywords_search_the_message(tmp_path: Path) -> None:
    """A keyword list matches when any keyword appears anywhere in `message`, case-insensitively."""
    rule = _compile(tmp_path, "  keywords:\n    - 'failed password'\n    - 'invalid user'\n  condition: keywords\n")
    assert _matches(rule, message="sshd[1]: Failed password for root from 203.0.113.7")
    assert _matches(rule, message="Invalid user admin")
    assert not _matches(rule, message="Accepted publickey for root")
    assert not _matches(rule, raw={"note": "failed password"})


def test_list_field_in_the_event_matches_on_any_element(tmp_path: Path) -> None:
    """When the event's field is a list, the rule matches if any element matches."""
    rule = _compile(tmp_path, "  sel:\n    groups: system:masters\n  condition: sel\n")
    assert _matches(rule, {"groups": ["system:authenticated", "system:masters"]})
    assert not _matches(rule, {"groups": ["system:authenticated"]})


def test_logsource_routing(tmp_path: Path) -> None:
    """A rule for product linux/service sshd applies to exactly that logsource, not another product or service."""
    rule = _compile(tmp_path, "  sel:\n    a: 1\n  condition: sel\n", logsource="product: linux\n  service: sshd")
    assert rule.applies_to(LogSource(product="linux", service="sshd", category="auth"))
    assert not rule.applies_to(LogSource(product="windows", service="sshd"))
    assert not rule.applies_to(LogSource(product="linux", service="auditd"))
    assert not rule.applies_to(LogSource(product="generic"))
