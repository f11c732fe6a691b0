"""Loads Sigma rule files; every problem becomes a RuleError located at `file:line`.

Loading never stops at the first broken rule: callers get the rules that compiled and the
list of errors, so `siem rules lint` reports all of them and a service keeps the good ones.
Rules reference each other across files (by id or `name`), so detections are parsed first,
correlations resolved after, and a correlation over a refused rule is refused too.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from services.correlator.rules.compiler import CompiledRule, compile_rule, rule_ref, runbook
from services.correlator.rules.config import RulesConfig
from services.correlator.rules.correlation import CorrelationRule, compile_correlation, sanitised_for_pysigma
from services.shared.errors import RuleError

RULE_SUFFIXES = (".yml", ".yaml")
# libyaml's safe loader is about 8x faster than the pure-Python one; same results.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class LoadedRules:
    rules: list[CompiledRule] = field(default_factory=list)
    correlations: list[CorrelationRule] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)
    files: int = 0


@dataclass
class _Document:
    data: dict[str, Any]
    node: yaml.Node
    path: Path

    @property
    def location(self) -> str:
        return f"{self.path}:{self.node.start_mark.line + 1}"

    def key_location(self, key: str) -> str:
        """`file:line` of a top-level key, so errors point at the part at fault."""
        if isinstance(self.node, yaml.MappingNode):
            for key_node, _ in self.node.value:
                if getattr(key_node, "value", None) == key:
                    return f"{self.path}:{key_node.start_mark.line + 1}"
        return self.location


def rule_files(dirs: list[Path]) -> list[Path]:
    """Rule files under `dirs`, in a stable order, each once even when folders overlap."""
    found: dict[Path, Path] = {}
    for folder in dirs:
        candidates = [folder] if folder.is_file() else sorted(folder.rglob("*"))
        for path in candidates:
            if path.suffix in RULE_SUFFIXES and path.is_file():
                found.setdefault(path.resolve(), path)
    return list(found.values())


def load_rules(dirs: list[Path], config: RulesConfig | None = None) -> LoadedRules:
    config = config or RulesConfig()
    loaded = LoadedRules()
    for folder in dirs:
        if not folder.exists():
            loaded.errors.append(RuleError(str(folder), "no such file or folder"))
    documents: list[_Document] = []
    for path in rule_files([d for d in dirs if d.exists()]):
        loaded.files += 1
        documents.extend(_read_documents(path, loaded.errors))

    detections: list[tuple[_Document, SigmaRule]] = []
    correlations: list[tuple[_Document, SigmaCorrelationRule]] = []
    for document in documents:
        try:
            if "correlation" in document.data:
                correlations.append((document, _parse_correlation(document)))
            else:
                detections.append((document, _parse_detection(document)))
        except RuleError as exc:
            loaded.errors.append(exc)

    ids: dict[str, str] = {}  # rule id -> location of its first definition
    names: dict[str, str] = {}  # rule name -> rule id
    for document, rule in [*detections, *correlations]:
        rule_id = str(rule.id)
        if rule_id in ids:
            loaded.errors.append(RuleError(document.location, f"duplicate rule id {rule_id} (first in {ids[rule_id]})"))
            continue
        if rule.name and rule.name in names:
            # Correlations refer to rules by name: two rules of one name would make that a guess.
            first = ids[names[rule.name]]
            loaded.errors.append(RuleError(document.location, f"duplicate rule name {rule.name} (first in {first})"))
            continue
        ids[rule_id] = document.location
        if rule.name:
            names[rule.name] = rule_id

    compiled_ids: set[str] = set()
    for document, detection in detections:
        if ids.get(str(detection.id)) != document.location:
            continue
        try:
            loaded.rules.append(compile_rule(detection, document.key_location("detection"), config))
            compiled_ids.add(str(detection.id))
        except RuleError as exc:
            loaded.errors.append(exc)

    pending = [(d, c) for d, c in correlations if ids.get(str(c.id)) == d.location]
    # Correlations may stand on correlations: compile in rounds until nothing more resolves.
    while pending:
        progressed = False
        for document, correlation in list(pending):
            try:
                compiled = _compile_correlation(document, correlation, ids, names, compiled_ids)
            except _NotYet:
                continue
            except RuleError as exc:
                loaded.errors.append(exc)
            else:
                loaded.correlations.append(compiled)
                compiled_ids.add(compiled.ref.id)
            pending.remove((document, correlation))
            progressed = True
        if not progressed:
            for document, _ in pending:
                loaded.errors.append(
                    RuleError(document.key_location("correlation"), "refers to a refused rule or to itself (a cycle)")
                )
            break
    return loaded


class _NotYet(Exception):
    """A referenced correlation exists but is not compiled yet."""


def _compile_correlation(
    document: _Document,
    correlation: SigmaCorrelationRule,
    ids: dict[str, str],
    names: dict[str, str],
    compiled: set[str],
) -> CorrelationRule:
    location = document.key_location("correlation")

    def resolve(reference: str) -> str:
        rule_id = reference if reference in ids else names.get(reference)
        if rule_id is None:
            raise RuleError(location, f"rule {reference!r} is not defined (by id or name) in the loaded rules")
        if rule_id not in compiled:
            raise _NotYet
        return rule_id

    ref = rule_ref(correlation).model_copy(update={"runbook": runbook(document.data)})
    return compile_correlation(correlation, document.data, location, resolve, ref)


def _read_documents(path: Path, errors: list[RuleError]) -> list[_Document]:
    try:
        text = path.read_text(encoding="utf-8")
        nodes = list(yaml.compose_all(text, Loader=_LOADER))
        datas = list(yaml.load_all(text, Loader=_LOADER))  # noqa: S506 - a safe loader, the C one when built
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        errors.append(RuleError(f"{path}:{mark.line + 1 if mark else 1}", f"invalid YAML: {exc.problem or exc}"))
        return []
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError) as exc:
        # ValueError: PyYAML building a value it parsed, such as the date 2024-13-45
        errors.append(RuleError(str(path), f"cannot read: {exc}"))
        return []
    documents: list[_Document] = []
    global_part: dict[str, Any] = {}
    previous: dict[str, Any] | None = None
    for node, data in zip(nodes, datas, strict=True):
        if data is None:
            continue
        document = _Document(data, node, path)
        if not isinstance(data, dict):
            errors.append(RuleError(document.location, "a rule must be a YAML mapping"))
            continue
        # Sigma's multi-document actions: `global` is merged into the documents after it,
        # `reset` forgets it, `repeat` is the previous rule with some keys replaced.
        action = data.get("action")
        if action == "global":
            global_part = _merged(global_part, {k: v for k, v in data.items() if k != "action"})
            continue
        if action == "reset":
            global_part = {}
            continue
        if action == "repeat":
            if previous is None:
                errors.append(RuleError(document.location, "`action: repeat` without a rule before it"))
                continue
            data = _merged(previous, {k: v for k, v in data.items() if k != "action"})
        elif action is not None:
            errors.append(RuleError(document.key_location("action"), f"unknown action {action!r}"))
            continue
        previous = data
        documents.append(_Document(_merged(global_part, data), node, path))
    return documents


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _parse_detection(document: _Document) -> SigmaRule:
    rule = _pysigma(SigmaRule.from_dict, document.data, document)
    if rule.id is None:
        raise RuleError(document.key_location("title"), "the rule has no id (a UUID is required)")
    return rule  # type: ignore[no-any-return]


def _parse_correlation(document: _Document) -> SigmaCorrelationRule:
    rule = _pysigma(SigmaCorrelationRule.from_dict, sanitised_for_pysigma(document.data), document)
    if rule.id is None:
        raise RuleError(document.key_location("title"), "the rule has no id (a UUID is required)")
    return rule  # type: ignore[no-any-return]


# pySigma's error classes name the part of the rule at fault; point the location at that key.
_ERROR_KEYS = (
    ("Correlation", "correlation"),
    ("LogSource", "logsource"),
    ("Logsource", "logsource"),
    ("Identifier", "id"),
    ("Title", "title"),
    ("Level", "level"),
    ("Status", "status"),
    ("Date", "date"),
    ("Tag", "tags"),
    ("Detection", "detection"),
    ("Condition", "detection"),
    ("Modifier", "detection"),
    ("Value", "detection"),
    ("RegularExpression", "detection"),
    ("Type", "detection"),
)


def _error_location(document: _Document, error: Exception) -> str:
    name = type(error).__name__
    for fragment, key in _ERROR_KEYS:
        if fragment in name:
            return document.key_location(key)
    return document.location


def _pysigma(parse: Any, data: dict[str, Any], document: _Document) -> Any:
    try:
        rule = parse(data, collect_errors=True)
    except SigmaError as exc:
        raise RuleError(_error_location(document, exc), str(exc)) from None
    except Exception as exc:  # pySigma trips over some wrong types (an `id: 5`) before its own checks
        raise RuleError(document.location, f"not a valid Sigma rule: {type(exc).__name__}: {exc}") from None
    if rule.errors:
        raise RuleError(_error_location(document, rule.errors[0]), "; ".join(str(e) for e in rule.errors))
    return rule
