"""Rule sets of a given size: the corpus SigmaHQ rules, topped up with generated variants of the same shape.

A variant is a corpus rule with a new id and title whose detection values are changed, as a
SigmaHQ neighbour rule would be: same logsource, same fields, same modifiers and condition,
other values (an equality stays an equality, `contains` stays a substring search). One variant
in VERBATIM_EVERY keeps its base rule's values, so the set matches at a realistic rate rather
than never. Smaller sets take corpus rules spread over every logsource.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from benchmarks.recorded import CORPUS

RULE_FOLDERS = ("rules", "rules-emerging-threats")  # detection rules of the corpus that load unmodified
VERBATIM_EVERY = 20
_NAMESPACE = uuid.UUID("6f1c1d0a-4c1e-4a8e-9a43-0c0b3a6f1e10")


@dataclass(frozen=True)
class CorpusRule:
    path: Path
    document: dict[str, Any]


def corpus_rules(corpus: Path = CORPUS) -> list[CorpusRule]:
    """The corpus's detection rules, one document per file, in path order."""
    found = []
    for folder in RULE_FOLDERS:
        for path in sorted((corpus / "sigma" / folder).rglob("*.yml")):
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
            if isinstance(document, dict) and "detection" in document and "correlation" not in document:
                found.append(CorpusRule(path, document))
    return found


def _changed(value: Any, tag: str) -> Any:
    """Another value of the same kind: strings get a suffix inside any trailing wildcard."""
    if isinstance(value, str):
        stem = value.rstrip("*")
        return f"{stem}-{tag}{value[len(stem) :]}"
    if isinstance(value, list):
        return [_changed(item, tag) for item in value]
    if isinstance(value, dict):
        return {key: _changed(item, tag) for key, item in value.items()}
    return value  # numbers, booleans and null keep their value: few rules have them, and they stay valid


def variant(base: dict[str, Any], number: int) -> dict[str, Any]:
    document = copy.deepcopy(base)
    document["id"] = str(uuid.uuid5(_NAMESPACE, f"{base['id']}/{number}"))
    document["title"] = f"{base['title']} (variant {number})"
    document.pop("related", None)
    if number % VERBATIM_EVERY:
        tag = f"v{number}"
        detection = document["detection"]
        for name, selection in detection.items():
            if name not in ("condition", "timeframe"):
                detection[name] = _changed(selection, tag)
    return document


def write_ruleset(folder: Path, size: int, corpus: Path = CORPUS) -> Path:
    """`size` rules in `folder`: the corpus rules (spread, when fewer are asked for) and variants."""
    rules = corpus_rules(corpus)
    folder.mkdir(parents=True, exist_ok=True)
    if size <= len(rules):
        step = len(rules) / size
        chosen = [rules[int(i * step)].document for i in range(size)]
    else:
        chosen = [r.document for r in rules]
        chosen += [variant(rules[n % len(rules)].document, n) for n in range(size - len(rules))]
    for number, document in enumerate(chosen):
        (folder / f"rule_{number:04d}.yml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return folder


def logsource_spread(folder: Path) -> dict[str, int]:
    """How many rules of the folder name each product (reported with the results)."""
    counts: dict[str, int] = {}
    for path in folder.glob("*.yml"):
        product = (yaml.safe_load(path.read_text(encoding="utf-8")).get("logsource") or {}).get("product", "any")
        counts[str(product)] = counts.get(str(product), 0) + 1
    return dict(sorted(counts.items()))
