"""The benchmark command still works: its smoke mode writes a well-formed results file (no duration is asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra import ROOT

HEADER = (
    "| variant | unit | runs (fast/slow) | median | fast-phase median | slow-phase median "
    "| spread (min–max) | ratio to baseline |"
)
RUNS = re.compile(r"^\d+ \(\d+/\d+\)$")
NUMBER = re.compile(r"^[\d,]+(\.\d+)?$")
RATIO = re.compile(r"^(baseline|n/a \(absolute target\)|[\d.]+× .+ \((fast|slow|all)\))$")


def _tables(text: str) -> dict[str, list[list[str]]]:
    """Every benchmark table of the results file, by its `###` title: the cells of each data row."""
    tables: dict[str, list[list[str]]] = {}
    title = ""
    rows: list[list[str]] | None = None
    for line in text.splitlines():
        if line.startswith("### "):
            title, rows = line[4:], None
        elif line == HEADER:
            rows = tables.setdefault(title, [])
        elif rows is not None and line.startswith("| ") and not line.startswith("|---"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif not line.startswith("|"):
            rows = None
    return tables


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("bench-results")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    files = list(out.glob("*.md"))
    assert len(files) == 1, files
    return files[0].read_text(encoding="utf-8")


def test_smoke_measures_every_quick_benchmark(corpus: Path, results: str) -> None:
    """The smoke run measures ingest, stage 1 and stage 2, and reports none of them as not measured."""
    for section in ("## 1. Ingest", "## 2. Correlator stage 1 (detection)", "## 3. Correlator stage 2"):
        assert section in results
    assert "**Not measured:**" not in results


def test_ingest_reports_each_servers_cpu_per_event(corpus: Path, results: str) -> None:
    """Each ingest table says how much CPU an accepted event cost each server, read from /proc."""
    notes = re.findall(r"CPU time per accepted event, median over rounds \(µs; /proc user \+ system\): (.*)", results)
    assert len(notes) == 2  # single events and batches of 100
    for note in notes:
        costs = dict(re.findall(r"(bare aiohttp \(decode \+ 202\)|ingest → memory bus) ([\d,.]+)", note))
        assert set(costs) == {"bare aiohttp (decode + 202)", "ingest → memory bus"}
        assert all(float(cost.replace(",", "")) > 0 for cost in costs.values())


def test_results_name_the_machine_and_the_commands(corpus: Path, results: str) -> None:
    """The file states the CPU model, the core count and the exact command of the run and of each table."""
    assert re.search(r"\| CPU model \(lscpu\) \| \S", results)
    assert re.search(r"\| CPUs / cores per socket \| \d+ / \d+ \|", results)
    assert "Command: `.venv/bin/python -m benchmarks --smoke" in results
    titles = [line for line in results.splitlines() if line.startswith("### ")]
    assert len(titles) >= 4
    assert results.count("\nCommand: `") >= len(titles) + 1


def test_every_table_row_is_well_formed(corpus: Path, results: str) -> None:
    """Each row has a run count, numeric medians and spread, and a ratio to a baseline row of its own table."""
    tables = _tables(results)
    assert len(tables) >= 4
    for title, rows in tables.items():
        assert rows, title
        names = {row[0] for row in rows}
        assert any(row[7] == "baseline" for row in rows), title
        for row in rows:
            assert len(row) == 8, row
            assert RUNS.match(row[2]), row
            assert NUMBER.match(row[3]), row
            low, _, high = row[6].partition("–")
            assert NUMBER.match(low) and NUMBER.match(high), row
            assert RATIO.match(row[7]), row
            if "× " in row[7]:
                assert any(row[7].split("× ", 1)[1].startswith(name) for name in names), row
