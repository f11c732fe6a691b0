"""Grafana's provisioning files: valid YAML with the keys Grafana reads, and uids the dashboards and sinks expect.

Grafana cannot run here, so these check the files against Grafana's provisioning format
(apiVersion 1, `datasources` / `providers` lists) and against the other sides of each contract.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dashboards.source import FOLDER
from dashboards.source.panels import DEFAULT_UIDS
from services.correlator.sinks.settings import SinksSettings

PROVISIONING = FOLDER / "provisioning"
COMPOSE = FOLDER.parent / "docker-compose.yml"


def _load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict) and document.get("apiVersion") == 1, f"{path}: apiVersion 1 is missing"
    return document


def _datasources() -> dict[str, dict[str, Any]]:
    return {d["type"]: d for d in _load(PROVISIONING / "datasources" / "siem.yaml")["datasources"]}


def test_datasources_are_loki_prometheus_and_alertmanager() -> None:
    """One data source of each type the dashboards read, each complete: name, uid, URL, proxy access."""
    sources = _datasources()
    assert set(sources) == {"loki", "prometheus", "alertmanager"}
    for kind, source in sources.items():
        assert source["name"] and source["url"].startswith("http"), kind
        assert source["access"] == "proxy" and source["editable"] is False, kind
    assert [s["type"] for s in sources.values() if s.get("isDefault")] == ["loki"]
    assert sources["alertmanager"]["jsonData"]["implementation"] == "prometheus"


def test_datasource_uids_are_what_dashboards_and_sinks_expect(boards: dict[str, dict[str, Any]]) -> None:
    """Each provisioned uid is the default of the dashboards' data source variable, and the Loki one is the
    uid the Alertmanager sink links alerts to."""
    sources = _datasources()
    assert {kind: s["uid"] for kind, s in sources.items()} == DEFAULT_UIDS
    for uid, board in boards.items():
        for variable in (v for v in board["templating"]["list"] if v["type"] == "datasource"):
            assert variable["current"]["value"] == sources[variable["query"]]["uid"], (uid, variable["name"])
    assert SinksSettings().grafana_loki_datasource_uid == sources["loki"]["uid"]


def test_the_dashboard_provider_loads_the_dashboards_folder() -> None:
    """A file provider loads the SIEM folder from the path docker-compose mounts the repository's dashboards/ on."""
    [provider] = _load(PROVISIONING / "dashboards" / "siem.yaml")["providers"]
    assert provider["type"] == "file" and provider["folder"] == "SIEM"
    assert provider["allowUiUpdates"] is False and provider["disableDeletion"] is True
    assert isinstance(provider["updateIntervalSeconds"], int) and provider["updateIntervalSeconds"] > 0
    grafana = yaml.safe_load(COMPOSE.read_text())["services"]["grafana"]
    assert f"./dashboards:{provider['options']['path']}:ro" in grafana["volumes"]


def test_provisioning_files_are_all_yaml_grafana_reads() -> None:
    """Only the two folders Grafana reads, each file apiVersion 1 YAML with its list key."""
    files = sorted(PROVISIONING.rglob("*"))
    assert {p.relative_to(PROVISIONING).as_posix() for p in files if p.is_file()} == {
        "datasources/siem.yaml",
        "dashboards/siem.yaml",
    }
    assert _load(PROVISIONING / "datasources" / "siem.yaml")["datasources"]
    assert _load(PROVISIONING / "dashboards" / "siem.yaml")["providers"]
