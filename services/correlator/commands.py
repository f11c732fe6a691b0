"""The rule commands of the CLI: `siem rules lint`, `siem rules test`, `siem replay`."""

from __future__ import annotations

import sys
from pathlib import Path

from services.correlator.replay import replay
from services.correlator.replay_formats import FORMATS
from services.correlator.rules.config import load_rules_config
from services.correlator.rules.testcases import run_rule_tests
from services.correlator.ruleset import RuleSet
from services.correlator.settings import CorrelatorSettings


def _load(dirs: list[Path]) -> RuleSet:
    settings = CorrelatorSettings.load()
    return RuleSet.load(dirs, load_rules_config(settings.rules_config))


def lint(dirs: list[Path]) -> int:
    rules = _load(dirs)
    for error in rules.errors:
        print(f"{error.location}: {error.reason}")
    print(
        f"{len(rules.detections)} detection and {len(rules.correlations)} correlation rules loaded, "
        f"{len(rules.errors)} refused, from {rules.files} files",
        file=sys.stderr,
    )
    return 1 if rules.errors else 0


def test(dirs: list[Path]) -> int:
    rules = _load(dirs)
    for error in rules.errors:
        print(f"{error.location}: REFUSED {error.reason}")
    report = run_rule_tests(rules)
    for result in report.results:
        verdict = "PASS" if result.passed else "FAIL"
        detail = f" ({result.reason})" if result.reason else ""
        print(f"{result.location}: {verdict} {result.title} / {result.name}{detail}")
    for location, title in report.untested:
        print(f"{location}: NO TESTS {title}")
    print(
        f"{len(report.results) - len(report.failed)} passed, {len(report.failed)} failed; "
        f"{len(report.untested)} rules without tests, {len(rules.errors)} refused",
        file=sys.stderr,
    )
    return 1 if report.failed or rules.errors else 0


def replay_file(dirs: list[Path], format_name: str, path: Path) -> int:
    settings = CorrelatorSettings.load()
    rules = RuleSet.load(dirs, load_rules_config(settings.rules_config))
    for error in rules.errors:
        print(f"{error.location}: rule refused: {error.reason}", file=sys.stderr)
    if not path.is_file():
        print(f"siem replay: {path}: no such file", file=sys.stderr)
        return 2
    return replay(
        rules,
        path,
        FORMATS[format_name],
        lateness_seconds=settings.allowed_lateness_seconds,
        suppress_seconds=settings.suppress_seconds,
    )
