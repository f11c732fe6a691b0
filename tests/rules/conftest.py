"""Fixtures for the rules pack: `siem` run in process with a clean environment, and its alerts read back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from services.cli import main
from services.correlator import commands
from services.correlator.rules.config import RulesConfig
from services.correlator.ruleset import RuleSet
from services.shared.alert import Alert
from tests.infra import ROOT

RULES = ROOT / "rules"
OPTIONAL_PACK = ROOT / "rules-optional" / "sigmahq"


@dataclass(frozen=True)
class SiemRun:
    code: int
    out: str
    err: str

    def alerts(self) -> list[Alert]:
        return [Alert.model_validate_json(line) for line in self.out.splitlines() if line.strip()]

    def fired(self, title: str) -> list[Alert]:
        """The alerts of the rule with this title."""
        return [alert for alert in self.alerts() if alert.rule.title == title]


Siem = Callable[..., SiemRun]


@pytest.fixture
def siem(capsys: pytest.CaptureFixture[str]) -> Siem:
    """`siem ARGS…` in this process, its exit code and what it printed."""

    def run(*args: str | Path) -> SiemRun:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return SiemRun(code, captured.out, captured.err)

    return run


class _RulesLoadedOnce:
    """Stands in for RuleSet in `siem replay`: the same folders give the same rule set, parsed once per session."""

    @staticmethod
    def load(dirs: list[Path], config: RulesConfig | None = None) -> RuleSet:
        assert config is None or config == RulesConfig()  # the environment is clean: no field maps, no placeholders
        return loaded_rules(*(Path(d).resolve() for d in dirs))


@pytest.fixture
def replay(siem: Siem, monkeypatch: pytest.MonkeyPatch) -> Callable[..., SiemRun]:
    """`siem replay --rules rules/ --format FORMAT FILE`, which must read every line of FILE.

    Everything runs as the command does except parsing the rule files, done once per folder set for the
    session (half a second each time otherwise); `siem rules lint` and `siem rules test` cover loading.
    """
    monkeypatch.setattr(commands, "RuleSet", _RulesLoadedOnce)

    def run(format_name: str, path: Path, *rule_dirs: Path) -> SiemRun:
        rules: list[str | Path] = []
        for folder in rule_dirs or (RULES,):
            rules += ["--rules", folder]
        result = siem("replay", *rules, "--format", format_name, path)
        assert result.code == 0, result.err
        return result

    return run


@cache
def loaded_rules(*folders: Path) -> RuleSet:
    """The rule set of these folders, loaded once (loading parses every YAML file: half a second)."""
    rules = RuleSet.load([Path(folder).resolve() for folder in folders])
    assert rules.errors == []
    return rules
