"""Differential test: our detection engine against pySigma's SQLite backend, an independent Sigma implementation.

For every detection rule of the corpus that our loader loads, both implementations judge the
same events: events synthesised from the rule's own values (positives and near misses, see
differential/synthesis.py) plus the corpus's real events of the rule's logsource product
(Kubernetes audit events, GitHub payloads, Linux log lines). Our side is the real stage-1
path: the rule in a RuleSet, its index, DetectionEngine.evaluate on an Event whose `raw` is
the payload and whose logsource is the rule's. The backend's side is its SQL over a table laid
out as it expects (differential/backend.py). Any difference fails, unless the specification
shows the backend wrong; such rules are listed in BACKEND_WRONG with the reason and must keep
differing, so the list cannot go stale.

The corpus rules use plain values, contains/startswith/endswith, lists, keywords and
`and not` / `1 of` conditions only, so the specification table of
rules/test_spec_cases.py goes through both implementations as well: there the modifiers,
special values and conditions the corpus lacks meet the backend, and each point where the
backend departs from the specification is listed in BACKEND_WRONG_CASES with the reason.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sigma.rule import SigmaRule

from services.correlator.engine import DetectionEngine
from services.correlator.rules.compiler import CompiledRule
from services.correlator.rules.loader import LoadedRules, load_rules
from services.correlator.ruleset import RuleSet
from services.shared.envelope import Envelope
from services.shared.event import Event
from tests.conftest import CORPUS
from tests.correlator.differential.backend import backend_matches
from tests.correlator.differential.samples import Sample, corpus_samples
from tests.correlator.differential.synthesis import synthesize
from tests.correlator.rules.test_spec_cases import CASES, CONFIG, LOGSOURCE, verdict

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SIGMA = CORPUS / "sigma"

# Corpus rule id -> why the backend, not our engine, departs from the specification on it (none do).
BACKEND_WRONG: dict[str, str] = {}

_ASCII_NOCASE = (
    "spec (rules v2.0.0, General): 'All values are treated as case-insensitive strings'; the backend leaves "
    "case to SQLite's NOCASE collation and LIKE, which fold ASCII letters only (its README: 'Case folding is "
    "ASCII only')"
)
_CIDR_PREFIXES = (
    "spec (modifiers appendix, cidr): the value is handled as a CIDR network and the field as an IP address; the "
    "backend expands the network into LIKE prefixes ('10.%'), which also select text that is no address"
)
_TEXT_COMPARE = (
    "spec (modifiers appendix, numeric modifiers): gt/gte/lt/lte compare numerically; the backend emits "
    "`n > 5`, which SQLite evaluates as a text comparison on a TEXT column (the layout for a field holding "
    "text), so '10' > 5 is false and 'many' > 5 is true"
)
_LIST_FIELD = (
    "not representable: the backend's data model is one scalar per column (a list is stored as its text), so a "
    "multi-valued field cannot match on an element; the specification does not define multi-valued fields, and "
    "the engine matches any element as issue 5 requires (as Elasticsearch does for arrays)"
)
_WEEK_00 = (
    "spec (modifiers appendix, time modifiers): 'week: number between 1 and 52'; the backend uses SQLite's "
    "strftime('%W'), weeks 00-53 counted from the year's first Monday, so 2023-01-01 is in week 0, a number the "
    "spec rules out (ISO 8601, which the engine reads, puts it in week 52)"
)
_EXISTS_NULL = (
    "spec (modifiers appendix, `exists`): 'only verifies the presence of a field, not its value, be it empty or "
    "null'; the backend tests `IS NOT NULL`, so a field holding null reads as absent there"
)
# Specification table case -> why the backend, not our engine, departs from the specification there.
BACKEND_WRONG_CASES: dict[str, str] = {
    "plain-non-ascii-case": _ASCII_NOCASE,
    "cidr-v4-not-an-address": _CIDR_PREFIXES,
    "week-at-year-boundary": _WEEK_00,
    "gt-numeric-text": _TEXT_COMPARE,
    "gt-not-a-number": _TEXT_COMPARE,
    "list-field-any-element": _LIST_FIELD,
    "list-field-number": _LIST_FIELD,
    "list-field-compare-none": _LIST_FIELD,
    "exists-true-null-value": _EXISTS_NULL,
    "exists-false-null-value": _EXISTS_NULL,
}
# Specification table case -> the engine bug that makes it differ from the (here correct) backend.
ENGINE_BUGS: dict[str, str] = {}


def _corpus_rules() -> list[Any]:
    """One parameter per detection rule our loader loads from the corpus (read at collection, in place)."""
    if not SIGMA.is_dir():  # the test then asks for the `corpus` fixture, which fails in CI
        return [pytest.param(None, id="corpus-missing")]
    loaded = load_rules([SIGMA])
    return [pytest.param(rule, id=_rule_id(rule)) for rule in loaded.rules]


def _rule_id(rule: CompiledRule) -> str:
    path, _, line = rule.location.rpartition(":")
    return f"{Path(path).relative_to(SIGMA)}:{line}"


def _sigma_rule(rule: CompiledRule) -> SigmaRule:
    """The same rule parsed by pySigma alone, for the backend (our loader's parse is not shared with it)."""
    path = Path(rule.location.rpartition(":")[0])
    for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        if isinstance(document, dict) and str(document.get("id")) == rule.ref.id and "detection" in document:
            return SigmaRule.from_dict(document)
    raise AssertionError(f"{rule.location}: rule {rule.ref.id} not found again")


def _engine_matches(rule: CompiledRule, samples: list[Sample]) -> set[int]:
    engine = DetectionEngine(RuleSet(LoadedRules(rules=[rule])))
    engine.emit_silenced = True  # every rule alerts on its own here, `generate: false` or not
    template = Event(id="e", time=T0, ingested=T0, logsource=rule.logsource)
    matched: set[int] = set()
    for position, sample in enumerate(samples):
        event = template.model_copy(update={"id": f"e{position}", "raw": sample.raw, "message": sample.message})
        if engine.evaluate(Envelope.of(event)).matches:
            matched.add(position)
    return matched


def _describe(samples: list[Sample], positions: set[int]) -> list[str]:
    return [f"{samples[p].origin}: raw={samples[p].raw!r} message={samples[p].message!r}" for p in sorted(positions)]


@pytest.mark.parametrize("rule", _corpus_rules())
def test_engine_agrees_with_the_sqlite_backend(corpus: Path, rule: CompiledRule | None) -> None:
    """Our engine and pySigma's SQLite backend select the same events for this corpus rule."""
    assert rule is not None
    sigma_rule = _sigma_rule(rule)
    samples = [*synthesize(sigma_rule), *corpus_samples(corpus, rule.logsource.product)]
    ours = _engine_matches(rule, samples)
    theirs = backend_matches(sigma_rule, samples)
    # Both sides of the rule are exercised: something matches and something does not.
    assert theirs and len(theirs) < len(samples), f"the events do not exercise {rule.location}"
    only_ours, only_theirs = ours - theirs, theirs - ours
    if rule.ref.id in BACKEND_WRONG:
        assert only_ours or only_theirs, f"no longer differs, drop the exception: {BACKEND_WRONG[rule.ref.id]}"
        return
    assert (_describe(samples, only_ours), _describe(samples, only_theirs)) == ([], []), (
        "(matched by our engine only, by the backend only)"
    )


def _pysigma_spelling(detection: dict[str, Any]) -> dict[str, Any]:
    """`|utf16le` as `|wide` for the backend: pySigma 2.0.1 lacks the key, the spec makes `wide` its alias."""

    def spelled(item: Any) -> Any:
        if isinstance(item, dict):
            return {str(k).replace("|utf16le", "|wide"): v for k, v in item.items()}
        return [spelled(i) for i in item] if isinstance(item, list) else item

    return {name: value if name == "condition" else spelled(value) for name, value in detection.items()}


def _spec_cases() -> list[Any]:
    marks = {name: [pytest.mark.xfail(strict=True, reason=reason)] for name, reason in ENGINE_BUGS.items()}
    return [pytest.param(*case.values, id=case.id, marks=marks.get(str(case.id), [])) for case in CASES]


@pytest.mark.parametrize(("detection", "raw", "message", "expected"), _spec_cases())
def test_specification_case_agrees_with_the_sqlite_backend(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    detection: dict[str, Any],
    raw: Any,
    message: str | None,
    expected: bool,
) -> None:
    """Our engine and pySigma's SQLite backend give the same verdict on this specification case."""
    name = request.node.callspec.id
    document = {"title": name, "logsource": {"product": LOGSOURCE.product}, "detection": _pysigma_spelling(detection)}
    rule = SigmaRule.from_dict(document)
    theirs = bool(backend_matches(rule, [Sample(name, raw, message)], CONFIG.placeholders))
    ours = verdict(tmp_path, detection, raw, message)
    if name in BACKEND_WRONG_CASES:
        assert ours == expected != theirs, f"no longer differs, drop the exception: {BACKEND_WRONG_CASES[name]}"
        return
    assert ours == theirs
