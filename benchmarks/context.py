"""What every benchmark of one run shares: its scratch folder, the recorded set, the rule sets, the time budget."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.infra import Stack
from benchmarks.recorded import RecordedSet
from benchmarks.rulesets import write_ruleset


@dataclass
class Budget:
    """How long samples are and how many rounds are taken; the smoke mode shrinks everything."""

    events: int  # size of the recorded set
    sample_seconds: float
    rounds: int
    rule_counts: tuple[int, ...]
    stage2_keys: int
    load_seconds: float  # one load-generator run
    load_rounds: int
    e2e_seconds: float  # the half-load phase of one end-to-end round
    peer_rounds: int  # more than `rounds`: a peer's target is judged on the rounds whose pair shares a phase


FULL = Budget(100_000, 1.0, 5, (10, 100, 1000), 1_000_000, 4.0, 3, 15.0, 8)
SMOKE = Budget(3_000, 0.2, 2, (10,), 20_000, 1.0, 2, 5.0, 2)


@dataclass
class Context:
    work: Path
    budget: Budget
    smoke: bool
    recorded: RecordedSet
    stack: Stack
    _rules: dict[int, Path] = field(default_factory=dict)

    def rules(self, count: int) -> Path:
        if count not in self._rules:
            self._rules[count] = write_ruleset(self.work / "rules" / str(count), count)
        return self._rules[count]
