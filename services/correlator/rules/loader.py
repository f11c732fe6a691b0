"""Loads Sigma rule files; every problem becomes a RuleError located at `file:line`.

Loading never stops at the first broken rule: callers get the rules that compiled and the
list of errors, so `siem rules lint` reports all of them and a service keeps the good ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from services.correlator.rules.compiler import CompiledRule, compile_rule
from services.shared.errors import RuleError

RULE_SUFFIXES = (".yml", ".yaml")


@dataclass
class LoadedRules:
    rules: list[CompiledRule] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)
    files: int = 0


def rule_files(dirs: list[Path]) -> list[Path]:
    """Rule files under `dirs`, in a stable order, each once even when folders overlap."""
    found: dict[Path, Path] = {}
    for folder in dirs:
        candidates = [folder] if folder.is_file() else sorted(folder.rglob("*"))
        for path in candidates:
            if path.suffix in RULE_SUFFIXES and path.is_file():
                found.setdefault(path.resolve(), path)
    return list(found.values())


def load_rules(dirs: list[Path]) -> LoadedRules:
    loaded = LoadedRules()
    for folder in dirs:
        if not folder.exists():
            loaded.errors.append(RuleError(str(folder), "no such file or folder"))
    for path in rule_files([d for d in dirs if d.exists()]):
        loaded.files += 1
        _load_file(path, loaded)
    seen: dict[str, str] = {}
    for rule in loaded.rules:
        if rule.ref.id in seen:
            loaded.errors.append(
                RuleError(rule.location, f"duplicate rule id {rule.ref.id} (first in {seen[rule.ref.id]})")
            )
        seen.setdefault(rule.ref.id, rule.location)
    loaded.rules = [r for r in loaded.rules if seen[r.ref.id] == r.location]
    return loaded


def _load_file(path: Path, loaded: LoadedRules) -> None:
    try:
        text = path.read_text(encoding="utf-8")
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        documents = list(yaml.safe_load_all(text))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        loaded.errors.append(RuleError(f"{path}:{line}", f"invalid YAML: {exc.problem or exc}"))
        return
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError) as exc:
        # ValueError: PyYAML building a value it parsed, such as the date 2024-13-45
        loaded.errors.append(RuleError(str(path), f"cannot read: {exc}"))
        return
    for node, document in zip(nodes, documents, strict=True):
        if document is None:
            continue
        location = f"{path}:{node.start_mark.line + 1}"
        try:
            loaded.rules.append(_load_document(document, node, path, location))
        except RuleError as exc:
            loaded.errors.append(exc)


def _load_document(document: Any, node: yaml.Node, path: Path, location: str) -> CompiledRule:
    if not isinstance(document, dict):
        raise RuleError(location, "a rule must be a YAML mapping")
    if "correlation" in document:
        raise RuleError(_key_location(node, path, "correlation", location), "correlation rules are not supported yet")
    if "action" in document:
        raise RuleError(_key_location(node, path, "action", location), "multi-document actions are not supported yet")
    try:
        rule = SigmaRule.from_dict(document, collect_errors=True)
    except SigmaError as exc:
        raise RuleError(location, str(exc)) from None
    except Exception as exc:  # pySigma trips over some wrong types (an `id: 5`) before its own checks
        raise RuleError(location, f"not a valid Sigma rule: {type(exc).__name__}: {exc}") from None
    if rule.errors:
        raise RuleError(location, "; ".join(str(e) for e in rule.errors))
    if rule.id is None:
        raise RuleError(_key_location(node, path, "title", location), "the rule has no id (a UUID is required)")
    return compile_rule(rule, _key_location(node, path, "detection", location))


def _key_location(node: yaml.Node, path: Path, key: str, fallback: str) -> str:
    """`file:line` of a top-level key of the document, so errors point at the part at fault."""
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            if getattr(key_node, "value", None) == key:
                return f"{path}:{key_node.start_mark.line + 1}"
    return fallback
