"""The stage 1 A/B tool runs each tree's own code and reports every tree (no duration is asserted)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.cpu_ab import compare
from benchmarks.recorded import build
from benchmarks.rulesets import write_ruleset
from tests.infra import ROOT


def test_each_tree_gets_a_row_of_cpu_figures(corpus: Path, tmp_path: Path) -> None:
    """Two trees (the same one twice, so the test needs no second checkout), one round each: two rows of figures."""
    recorded = build(tmp_path / "recorded", 2_000, corpus)
    rules = write_ruleset(tmp_path / "rules", 10, corpus)
    table = compare([ROOT, ROOT], rules, recorded.envelopes, rounds=1, count=1_000)

    rows = [line for line in table.splitlines() if line.startswith(f"| {ROOT} |")]
    assert len(rows) == 2
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert float(cells[3]) > 0 and float(cells[4]) > 0  # handler and decode µs an event were measured
