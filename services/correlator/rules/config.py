"""The rules configuration: per-logsource field aliases and the values of `expand` placeholders.

One optional YAML file (SIEM_RULES_CONFIG), for example:

    field_maps:
      - logsource: {product: linux, service: sshd}
        fields: {src_ip: source.ip, username: user.name}
    placeholders:
      admins: [root, admin, "adm*"]

A rule for `linux/sshd` that names `src_ip` then reads the envelope's `source.ip`, and
`user|expand: "%admins%"` matches any of the listed values (wildcards allowed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from services.shared.errors import ConfigError
from services.shared.event import LogSource


@dataclass(frozen=True)
class FieldMap:
    logsource: LogSource
    fields: dict[str, str]


@dataclass(frozen=True)
class RulesConfig:
    field_maps: list[FieldMap] = field(default_factory=list)
    placeholders: dict[str, list[str]] = field(default_factory=dict)

    def aliases_for(self, logsource: LogSource) -> dict[str, str]:
        """Aliases of every map whose logsource the rule's logsource falls under (the more specific wins)."""
        aliases: dict[str, str] = {}
        applicable = [m for m in self.field_maps if _covers(m.logsource, logsource)]
        for mapping in sorted(applicable, key=lambda m: _specificity(m.logsource)):
            aliases.update(mapping.fields)
        return aliases


def load_rules_config(path: Path | None) -> RulesConfig:
    if path is None:
        return RulesConfig()
    key = "SIEM_RULES_CONFIG"
    try:
        document: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(key, f"cannot read {path}: {exc}") from None
    if not isinstance(document, dict):
        raise ConfigError(key, f"{path}: expected a mapping with field_maps and/or placeholders")
    try:
        maps = [
            FieldMap(LogSource(**entry.get("logsource", {})), {str(k): str(v) for k, v in entry["fields"].items()})
            for entry in document.get("field_maps", [])
        ]
        placeholders = {str(k): [str(v) for v in _as_list(vs)] for k, vs in document.get("placeholders", {}).items()}
    except (TypeError, KeyError, AttributeError, ValueError) as exc:
        raise ConfigError(key, f"{path}: malformed entry ({exc})") from None
    return RulesConfig(maps, placeholders)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _covers(general: LogSource, specific: LogSource) -> bool:
    return all(
        wanted is None or wanted == actual
        for wanted, actual in (
            (general.product, specific.product),
            (general.service, specific.service),
            (general.category, specific.category),
        )
    )


def _specificity(logsource: LogSource) -> int:
    return sum(v is not None for v in (logsource.product, logsource.service, logsource.category))
