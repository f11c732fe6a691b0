"""Samples tagged with a CPU probe, and how they are summed up (docs: /work/shared/BENCHMARKING.md).

The host alternates between a fast and a slow phase (1.5-2.2x apart), so every sample carries
the probe's reading right before and right after it. At report time all probes of the run are
pooled: a probe within PHASE_CUT of the fast reference is "fast"; a sample is fast when both of
its probes are, slow when both are not, and "mixed" otherwise (it counts only in the overall
median). Ratios compare fast with fast, falling back to slow with slow, then to everything.
Two contenders sampled in the same rounds (a peer and ours) are also compared round by round
(`paired_ratio`): each round's two samples are seconds apart, so a pair in one phase compares
like with like even when the phase medians rest on samples minutes apart.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

PROBE_ITERATIONS = 400_000  # about 20 ms of pure Python on this machine's fast phase
PHASE_CUT = 0.8  # a probe under 80 % of the fast reference was taken in the slow phase


def probe() -> float:
    """A tiny fixed pure-Python loop; iterations per second (higher = faster phase)."""
    started = time.perf_counter()
    total = 0
    for i in range(PROBE_ITERATIONS):
        total += i & 7
    elapsed = time.perf_counter() - started
    return PROBE_ITERATIONS / elapsed if total >= 0 else 0.0


@dataclass(frozen=True, slots=True)
class Sample:
    value: float  # events/s, milliseconds, bytes... as its row says
    before: float  # probe reading right before the sample
    after: float  # and right after

    def to_json(self) -> list[float]:
        return [self.value, self.before, self.after]

    @classmethod
    def from_json(cls, data: list[float]) -> Sample:
        return cls(float(data[0]), float(data[1]), float(data[2]))


def timed(work: Callable[[], int]) -> Sample:
    """Run `work` (which returns how many items it handled) between two probes: items per second."""
    before = probe()
    started = time.perf_counter()
    count = work()
    elapsed = time.perf_counter() - started
    after = probe()
    return Sample(count / elapsed if elapsed > 0 else 0.0, before, after)


def fast_reference(probes: Iterable[float]) -> float:
    """The fast phase's probe reading: a high quantile, so one lucky reading does not set it."""
    ordered = sorted(probes)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]


def phase(sample: Sample, reference: float) -> str:
    fast = [p >= PHASE_CUT * reference for p in (sample.before, sample.after)]
    if all(fast):
        return "fast"
    if not any(fast):
        return "slow"
    return "mixed"


@dataclass(frozen=True)
class Summary:
    n: int
    n_fast: int
    n_slow: int
    median: float
    median_fast: float | None
    median_slow: float | None
    low: float
    high: float

    def comparable(self) -> tuple[str, float]:
        """The median to compare with another row's: fast first (BENCHMARKING.md)."""
        if self.median_fast is not None:
            return "fast", self.median_fast
        if self.median_slow is not None:
            return "slow", self.median_slow
        return "all", self.median


def summarise(samples: list[Sample], reference: float) -> Summary:
    values = [s.value for s in samples]
    by_phase: dict[str, list[float]] = {"fast": [], "slow": [], "mixed": []}
    for sample in samples:
        by_phase[phase(sample, reference)].append(sample.value)
    return Summary(
        n=len(values),
        n_fast=len(by_phase["fast"]),
        n_slow=len(by_phase["slow"]),
        median=statistics.median(values) if values else 0.0,
        median_fast=statistics.median(by_phase["fast"]) if by_phase["fast"] else None,
        median_slow=statistics.median(by_phase["slow"]) if by_phase["slow"] else None,
        low=min(values, default=0.0),
        high=max(values, default=0.0),
    )


def ratio(value: Summary, baseline: Summary) -> tuple[float, str] | None:
    """`value` over `baseline` in the same phase (fast with fast, else slow with slow, else all)."""
    if value.median_fast is not None and baseline.median_fast:
        return value.median_fast / baseline.median_fast, "fast"
    if value.median_slow is not None and baseline.median_slow:
        return value.median_slow / baseline.median_slow, "slow"
    if baseline.median:
        return value.median / baseline.median, "all"
    return None


@dataclass(frozen=True)
class Paired:
    median: float
    phase: str  # "one phase": only the rounds whose two samples share a phase; "all": none did
    used: int
    rounds: list[tuple[float, str]]  # every round's ratio and the phase of its pair ("fast", "slow", "mixed")


def paired_ratio(values: list[Sample], baselines: list[Sample], reference: float) -> Paired | None:
    """The median over rounds of value / baseline, `values[i]` and `baselines[i]` taken in round i.

    A round counts when both of its samples are fast or both are slow; when no round does, all
    rounds count (and the phase says "all").
    """
    rounds = []
    for value, baseline in zip(values, baselines, strict=True):
        if baseline.value <= 0:
            continue
        phases = {phase(value, reference), phase(baseline, reference)}
        rounds.append((value.value / baseline.value, phases.pop() if len(phases) == 1 else "mixed"))
    if not rounds:
        return None
    matched = [r for r, p in rounds if p != "mixed"]
    used = matched or [r for r, _ in rounds]
    return Paired(statistics.median(used), "one phase" if matched else "all", len(used), rounds)


def samples_from_json(data: Any) -> list[Sample]:
    return [Sample.from_json(item) for item in data]
