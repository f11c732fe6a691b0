"""One test event as both implementations see it, and the real corpus events for a rule's logsource product.

A sample is the raw payload (the event's `raw`, nested as the source sent it) plus the text
line (`message`), which keyword detections search. Corpus files are read in place.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

# auditd writes `key=value` pairs; values are bare, "double-quoted" or, for the nested
# `msg='…'` of user-space records, single-quoted pairs of their own.
_AUDIT_PAIR = re.compile(r"""(\w+)=("[^"]*"|'[^']*'|\S+)""")


@dataclass(frozen=True)
class Sample:
    origin: str  # where the sample came from, for failure messages
    raw: dict[str, Any] | None
    message: str | None = None


def corpus_samples(corpus: Path, product: str | None) -> tuple[Sample, ...]:
    """Real events of the corpus that answer to this logsource product (none for products it has no data of)."""
    return _corpus_samples(corpus, product)


@lru_cache(maxsize=8)
def _corpus_samples(corpus: Path, product: str | None) -> tuple[Sample, ...]:
    if product == "kubernetes":
        return tuple(_kubernetes(corpus / "k8s-audit"))
    if product == "github":
        return tuple(
            Sample(f"github/{path.name}", json.loads(path.read_text(encoding="utf-8")))
            for path in sorted((corpus / "github").glob("*.json"))
        )
    if product == "linux":
        return tuple(_linux(corpus / "linux"))
    return ()


def _kubernetes(folder: Path) -> list[Sample]:
    """Audit events, one JSON object per line (an EventList stands for its items)."""
    samples: list[Sample] = []
    for path in sorted([*folder.rglob("*.json"), *folder.rglob("*.log")]):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            document = json.loads(line)
            items = document.get("items", []) if document.get("kind") == "EventList" else [document]
            samples.extend(Sample(f"{path.relative_to(folder)}:{number}", item) for item in items)
    return samples


def _linux(folder: Path) -> list[Sample]:
    """Log lines as text; auditd lines also as their `key=value` fields."""
    samples: list[Sample] = []
    for path in sorted(folder.rglob("*.log")):
        audit = "auditd" in path.parts
        text = path.read_text(encoding="utf-8", errors="backslashreplace")
        for number, line in enumerate(text.splitlines(), start=1):
            line = line.rstrip("\r")
            if line.strip():
                raw = audit_fields(line) if audit else None
                samples.append(Sample(f"{path.relative_to(folder)}:{number}", raw, line))
    return samples


def audit_fields(line: str) -> dict[str, Any]:
    """The fields of one audit record; the pairs inside `msg='…'` are fields of the record too."""
    fields: dict[str, Any] = {}
    for key, value in _AUDIT_PAIR.findall(line):
        if value.startswith("'"):
            for inner_key, inner_value in _AUDIT_PAIR.findall(value[1:-1]):
                fields.setdefault(inner_key, inner_value.strip('"'))
        fields.setdefault(key, value.strip("\"'"))
    return fields
