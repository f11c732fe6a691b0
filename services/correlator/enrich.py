"""Alert enrichment: severity and risk score from the rule level, ATT&CK names from its tags, asset owners.

The ATT&CK table is data shipped with the code (data/attack.json, its source inside;
regenerate with scripts/attack_table.py). The asset table is an optional CSV
(SIEM_ASSETS_FILE) with a `key` column matched against the alert's group values
(host name, IP, user...) and any further columns copied into `alert.asset`.
"""

from __future__ import annotations

import csv
import json
from functools import cache, lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from services.shared.alert import Alert, RuleRef, Scalar, Technique
from services.shared.errors import ConfigError

# Sigma levels onto the severities Alertmanager routes on, and a 0-100 risk score (ECS event.risk_score).
SEVERITY = {"informational": "info", "low": "low", "medium": "medium", "high": "high", "critical": "critical"}
RISK_SCORE = {"informational": 0, "low": 21, "medium": 47, "high": 73, "critical": 99}


@cache
def attack_table() -> dict[str, Any]:
    return json.loads((files("services.correlator") / "data" / "attack.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def techniques(tags: list[str]) -> list[Technique]:
    """`attack.t1110.001` and the like, named; tags that are not techniques are skipped."""
    return list(_techniques(tuple(tags)))


@lru_cache(maxsize=4096)  # one entry per rule's tags: every alert of a rule asks the same
def _techniques(tags: tuple[str, ...]) -> tuple[Technique, ...]:
    table = attack_table()
    tactic_names = {short: t["name"] for short, t in table["tactics"].items()}
    found = []
    for tag in tags:
        namespace, _, name = tag.partition(".")
        technique = table["techniques"].get(name.upper()) if namespace == "attack" else None
        if technique is not None:
            tactics = [tactic_names.get(t, t) for t in technique["tactics"]]
            found.append(Technique(id=name.upper(), name=technique["name"], tactics=tactics))
    return tuple(found)


class Enricher:
    def __init__(self, assets: dict[str, dict[str, str]] | None = None) -> None:
        self._assets = assets or {}

    @classmethod
    def from_file(cls, path: Path | None) -> Enricher:
        if path is None:
            return cls()
        try:
            with path.open(newline="", encoding="utf-8") as file:
                rows = list(csv.DictReader(file))
        except OSError as exc:
            raise ConfigError("SIEM_ASSETS_FILE", f"cannot read {path}: {exc.strerror}") from None
        if rows and "key" not in rows[0]:
            raise ConfigError("SIEM_ASSETS_FILE", f"{path}: needs a `key` column")
        return cls({row["key"]: {k: v for k, v in row.items() if k != "key" and v} for row in rows})

    def enrich(self, alert: Alert) -> Alert:
        return alert.model_copy(update=self.enrichment(alert.rule, alert.group))

    def enrichment(self, rule: RuleRef, group: dict[str, Scalar]) -> dict[str, Any]:
        """The fields an alert of `rule` about `group` gets: severity, risk score, ATT&CK, asset owner."""
        asset: dict[str, str] = {}
        for value in group.values():
            asset.update(self._assets.get(str(value), {}))
        return {
            "severity": SEVERITY.get(rule.level, rule.level),
            "risk_score": RISK_SCORE.get(rule.level),
            "attack": techniques(rule.tags),
            "asset": asset,
        }
