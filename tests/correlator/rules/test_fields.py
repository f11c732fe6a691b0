"""What a rule may read is known when it loads: the rule set projects those raw paths per logsource."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import yaml

from services.correlator.rules.config import FieldMap, RulesConfig
from services.correlator.rules.loader import load_rules
from services.correlator.ruleset import RuleSet
from services.shared.envelope import EnvelopeLogSource
from services.shared.event import LogSource

K8S = {"product": "kubernetes", "service": "audit"}
KUBERNETES = {"product": "kubernetes"}  # any service


def _rule(name: str, detection: dict[str, Any], logsource: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "title": name,
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"siem-test:{name}")),
        "name": name,
        "logsource": K8S if logsource is None else logsource,
        "detection": detection,
        "level": "low",
    }


def _write(folder: Path, *documents: dict[str, Any]) -> None:
    (folder / "rules.yml").write_text(yaml.safe_dump_all(documents, sort_keys=False), encoding="utf-8")


def test_a_rule_lists_every_field_its_condition_reads(tmp_path: Path) -> None:
    """Fields of every branch (NOT included), aliases applied, `fieldref` targets, and `message` for keywords."""
    detection = {
        "selection": {"verb": "create", "objectRef.resource|contains": "secret"},
        "other": {"src|fieldref": "objectRef.namespace"},
        "filter": {"userAgent|startswith": "kubectl"},
        "keywords": ["denied"],
        "condition": "(selection or other or keywords) and not filter",
    }
    _write(tmp_path, _rule("reads", detection))
    config = RulesConfig([FieldMap(LogSource(product="kubernetes"), {"src": "sourceIPs"})])
    loaded = load_rules([tmp_path], config)
    assert loaded.errors == []
    (rule,) = loaded.rules
    assert rule.fields == {"verb", "objectRef.resource", "sourceIPs", "objectRef.namespace", "userAgent", "message"}


def test_a_logsource_projects_the_raw_paths_of_its_rules_and_of_the_correlations_they_feed(tmp_path: Path) -> None:
    """Rules of the event's logsource and of broader ones count, with group-by and metric fields, ECS names too."""
    correlation = {
        "title": "many",
        "id": "00000000-0000-4000-8000-000000000099",
        "name": "many",
        "correlation": {
            "type": "value_count",
            "rules": ["create"],
            "group-by": ["objectRef.namespace", "user.name"],
            "timespan": "5m",
            "condition": {"gte": 3, "field": "objectRef.name"},
        },
    }
    _write(
        tmp_path,
        _rule("create", {"selection": {"verb": "create"}, "condition": "selection"}),
        _rule("any-service", {"selection": {"requestURI|contains": "/exec"}, "condition": "selection"}, KUBERNETES),
        _rule("linux", {"selection": {"exe": "/bin/sh"}, "condition": "selection"}, {"product": "linux"}),
        _rule("ecs", {"selection": {"user.name": "root"}, "condition": "selection"}, {"product": "github"}),
        _rule("envelope-only", {"selection": {"labels.team": "x"}, "condition": "selection"}, {"product": "gitea"}),
        correlation,
    )
    rules = RuleSet.load([tmp_path])
    assert rules.errors == []
    projection = rules.index.projection(EnvelopeLogSource(**K8S))
    assert projection is not None
    assert projection.paths == {"verb", "requestURI", "objectRef.namespace", "objectRef.name", "user.name"}
    assert rules.index.projection(EnvelopeLogSource(product="github")).paths == {"user.name"}  # type: ignore[union-attr]
    assert rules.index.projection(EnvelopeLogSource(product="linux")).paths == {"exe"}  # type: ignore[union-attr]
    assert rules.index.projection(EnvelopeLogSource(product="gitea")) is None


def test_a_reloaded_rule_set_projects_its_own_paths(tmp_path: Path) -> None:
    """A reload builds a new RuleSet, and with it new projections: a path a new rule reads is decoded from then on."""
    _write(tmp_path, _rule("before", {"selection": {"verb": "get"}, "condition": "selection"}))
    before = RuleSet.load([tmp_path]).index.projection(EnvelopeLogSource(**K8S))
    _write(tmp_path, _rule("after", {"selection": {"objectRef.resource": "pods"}, "condition": "selection"}))
    after = RuleSet.load([tmp_path]).index.projection(EnvelopeLogSource(**K8S))
    assert before is not None and before.paths == {"verb"}
    assert after is not None and after.paths == {"objectRef.resource"}
