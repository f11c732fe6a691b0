"""Correlations in the pack refer to their evidence rules by `name`: a name must mean one rule only."""

from __future__ import annotations

from pathlib import Path

from tests.rules.conftest import Siem

RULE = """\
title: {title}
id: {id}
name: failed_login
logsource: {{product: generic}}
detection:
  selection: {{event.action: {action}}}
  condition: selection
level: low
"""


def test_lint_refuses_a_second_rule_with_the_same_name(tmp_path: Path, siem: Siem) -> None:
    """Two rule files that both say `name: failed_login` make `siem rules lint` report the second one."""
    (tmp_path / "a.yml").write_text(RULE.format(title="A", id="5a0c8d8e-0d55-4a8c-8f43-0e2b8f3f2a01", action="a"))
    (tmp_path / "b.yml").write_text(RULE.format(title="B", id="5a0c8d8e-0d55-4a8c-8f43-0e2b8f3f2a02", action="b"))
    result = siem("rules", "lint", tmp_path)
    assert result.code == 1
    assert f"{tmp_path / 'b.yml'}:" in result.out and "failed_login" in result.out
