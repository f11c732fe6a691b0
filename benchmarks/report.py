"""The results file: one Markdown table per benchmark, every row also as a ratio to its baseline.

Sections are filled by the benchmarks; phases are decided here, once all probes of the run
are known (measure.py explains how).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from benchmarks.commands import ROOT
from benchmarks.machine import Machine
from benchmarks.measure import Sample, fast_reference, ratio, summarise

NO_BASELINE = ""


@dataclass
class Row:
    name: str
    unit: str  # "events/s", "ms", "MiB"...
    samples: list[Sample]
    baseline: str | None = None  # the row of the same table this one is a ratio to; None: it is the baseline
    # (NO_BASELINE: a figure judged against an absolute target only, such as a latency)
    note: str = ""


@dataclass
class Table:
    title: str
    command: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self, name: str) -> Row | None:
        return next((r for r in self.rows if r.name == name), None)


@dataclass
class Target:
    what: str
    wanted: str
    measured: str
    met: bool | None  # None: not measured
    gap: str = ""


# A target is judged once the whole run's probes are known: it gets the fast-phase reference.
Judge = Callable[[float], Target]


@dataclass
class Section:
    title: str
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    targets: list[Judge] = field(default_factory=list)
    profile: list[str] = field(default_factory=list)  # Markdown lines
    error: str | None = None


def share(value: Row, baseline: Row, reference: float) -> tuple[float, str] | None:
    """`value` over `baseline`, phase with phase (for targets)."""
    return ratio(summarise(value.samples, reference), summarise(baseline.samples, reference))


def number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "–"
    if unit in ("ms", "s", "MiB", "x") or abs(value) < 100:
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.1f}"
    return f"{value:,.0f}"


@dataclass
class Report:
    machine: Machine
    command: str
    started: datetime
    mode: str
    sections: list[Section] = field(default_factory=list)
    preamble: list[str] = field(default_factory=list)
    appendix: str = ""  # hand-written analysis (findings.md), appended as it is

    def reference(self) -> float:
        probes = [
            p for s in self.sections for t in s.tables for r in t.rows for x in r.samples for p in (x.before, x.after)
        ]
        return fast_reference(probes)

    def targets(self) -> list[Target]:
        reference = self.reference()
        return [judge(reference) for section in self.sections for judge in section.targets]

    def render(self) -> str:
        reference = self.reference()
        out = [f"# Benchmark results, {self.started:%Y-%m-%d %H:%M} UTC ({self.mode})", ""]
        out += self.preamble
        out += ["", "## Machine", "", "| | |", "|---|---|"]
        out += [f"| {k} | {v} |" for k, v in self.machine.rows()]
        out += [
            "",
            f"Command: `{self.command}`",
            "",
            f"CPU probe fast-phase reference: {reference:,.0f} iterations/s",
            "",
        ]
        targets = self.targets()
        if targets:
            out += ["## Targets (issue 10)", "", "| target | wanted | measured | met | gap |", "|---|---|---|---|---|"]
            for t in targets:
                verdict = "not measured" if t.met is None else ("yes" if t.met else "**no**")
                out.append(f"| {t.what} | {t.wanted} | {t.measured} | {verdict} | {t.gap} |")
            out.append("")
            out += ["Where a target is missed, its section below ends with a profile of what is in the way.", ""]
        for section in self.sections:
            out += self._section(section, reference)
        if self.appendix:
            out += [self.appendix.strip(), ""]
        return "\n".join(out).rstrip() + "\n"

    def _section(self, section: Section, reference: float) -> list[str]:
        out = [f"## {section.title}", ""]
        if section.error:
            out += [f"**Not measured:** {section.error}", ""]
        for table in section.tables:
            out += [f"### {table.title}", "", f"Command: `{table.command}`", ""]
            out += [
                "| variant | unit | runs (fast/slow) | median | fast-phase median | slow-phase median "
                "| spread (min–max) | ratio to baseline |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for row in table.rows:
                s = summarise(row.samples, reference)
                base = table.row(row.baseline) if row.baseline else None
                compared = ratio(s, summarise(base.samples, reference)) if base and base.samples else None
                if row.baseline is None:
                    versus = "baseline"
                elif row.baseline == NO_BASELINE:
                    versus = "n/a (absolute target)"
                elif compared is None:
                    versus = "–"
                else:
                    versus = f"{compared[0]:.3f}× {row.baseline} ({compared[1]})"
                name = f"{row.name} ({row.note})" if row.note else row.name
                out.append(
                    f"| {name} | {row.unit} | {s.n} ({s.n_fast}/{s.n_slow}) | {number(s.median, row.unit)} "
                    f"| {number(s.median_fast, row.unit)} | {number(s.median_slow, row.unit)} "
                    f"| {number(s.low, row.unit)}–{number(s.high, row.unit)} | {versus} |"
                )
            out += [""] + [f"- {note}" for note in table.notes] + ([""] if table.notes else [])
        if section.notes:
            out += [f"- {note}" for note in section.notes] + [""]
        if section.profile:
            out += section.profile + [""]
        return out

    def write(self, folder: Path, scratch: str) -> Path:
        """Write the file; the run's scratch folder is shown as $SCRATCH (a temporary folder, gone by then)."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.started:%Y-%m-%d}.md"
        text = self.render().replace(scratch, "$SCRATCH").replace(str(ROOT) + "/", "")
        path.write_text(text, encoding="utf-8")
        return path
