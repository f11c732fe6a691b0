"""The rules pack as `siem` sees it: every file loads, and every rule's own test events pass."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tests.rules.conftest import RULES, Siem


def rule_documents() -> list[tuple[Path, dict[str, Any]]]:
    """Every rule document of the pack, with its file."""
    return [
        (path, document)
        for path in sorted(RULES.rglob("*.yml"))
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if document
    ]


def test_lint_is_clean(siem: Siem) -> None:
    """`siem rules lint rules/` refuses nothing and prints no problem."""
    result = siem("rules", "lint", RULES)
    assert result.code == 0, result.out
    assert result.out == ""
    loaded = re.search(r"(\d+) detection and (\d+) correlation rules loaded, 0 refused", result.err)
    assert loaded is not None, result.err
    assert int(loaded.group(1)) + int(loaded.group(2)) == len(rule_documents())


def test_every_rule_test_passes_and_no_rule_is_untested(siem: Siem) -> None:
    """`siem rules test rules/` runs every case of every rule, all pass, and it lists no rule without tests."""
    result = siem("rules", "test", RULES)
    assert result.code == 0, result.out
    assert "FAIL" not in result.out and "NO TESTS" not in result.out and "REFUSED" not in result.out
    cases = sum(len(document["tests"]) for _, document in rule_documents())
    assert result.out.count(": PASS ") == cases
    assert f"{cases} passed, 0 failed; 0 rules without tests, 0 refused" in result.err


def test_every_rule_carries_a_match_and_a_near_miss() -> None:
    """Each rule document has at least one case that must alert and one that must not."""
    for path, document in rule_documents():
        expected = [case.get("match") for case in document.get("tests") or []]
        assert True in expected and False in expected, f"{path}: {document['title']}"
