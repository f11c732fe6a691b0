"""The dashboard files themselves: generated from their source, stable uids, and every panel complete.

Grafana cannot run here, so these check the JSON model Grafana loads (schema fields, variables,
data source references) rather than a rendered dashboard.
"""

from __future__ import annotations

from typing import Any

import pytest

from dashboards.source import DASHBOARDS, FOLDER, path, text
from dashboards.source.__main__ import main
from tests.dashboards.grafana_json import LOKI, PROMETHEUS, panels, queries

# Bookmarks, links between dashboards and the chart's ConfigMap names depend on these: never change one.
STABLE_UIDS = {
    "siem-overview",
    "siem-auth",
    "siem-kubernetes",
    "siem-git",
    "siem-ci",
    "siem-pipeline",
    "siem-flask-app",
}
DATASOURCE_VARIABLES = {LOKI: ("DS_LOKI", "loki"), PROMETHEUS: ("DS_PROMETHEUS", "prometheus")}
# What each dashboard must show (issue 7), by panel title.
REQUIRED_PANELS = {
    "siem-overview": {"Alerts over time by level", "Top rules", "Top actors", "Top source addresses", "Latest alerts"},
    "siem-auth": {"Authentication successes and failures", "Failures by host", "Top failing source addresses"},
    "siem-kubernetes": {"Requests by verb", "Top users", "Denied requests", "Exec and attach sessions"},
    "siem-git": {"Pushes by repository", "Force pushes", "Branch protection changes"},
    "siem-ci": {"Builds by result", "Failing jobs"},
    "siem-pipeline": {
        "Messages consumed by stage",
        "Backlog growth by topic",
        "Dead letters by stage and type",
        "Sink errors",
        "Sink retries",
        "Rule evaluation time",
    },
    "siem-flask-app": {"Requests by route", "Latency p95 by route", "Errors by type", "5xx ratio"},
}


def test_committed_json_is_what_the_source_builds() -> None:
    """Each dashboards/<uid>.json is byte for byte what `python -m dashboards.source` writes now."""
    for uid in DASHBOARDS:
        assert path(uid).read_text() == text(uid), f"{path(uid)} is stale: run `python -m dashboards.source`"
    assert main(["--check"]) == 0


def test_uids_are_stable_unique_and_name_their_files(boards: dict[str, dict[str, Any]]) -> None:
    """The dashboards are exactly the stable set, each in the file named after its uid, no uid twice."""
    files = sorted(FOLDER.glob("*.json"))
    assert {p.stem for p in files} == STABLE_UIDS == set(boards) == set(DASHBOARDS)
    assert len(files) == len(boards)  # two files with one uid would collapse into one entry


@pytest.mark.parametrize("uid", sorted(STABLE_UIDS))
def test_every_panel_has_a_title_a_description_and_a_datasource_variable(
    boards: dict[str, dict[str, Any]], uid: str
) -> None:
    """No panel lacks a title or description, and every panel and query reads a data source variable the
    dashboard defines, of the right type."""
    board = boards[uid]
    variables = {v["name"]: v for v in board["templating"]["list"] if v["type"] == "datasource"}
    shown = list(panels(board))
    assert shown
    for panel in shown:
        assert panel.get("title", "").strip(), f"{uid}: a panel has no title"
        assert len(panel.get("description", "")) >= 20, f"{uid} / {panel['title']}: no description"
        uid_ref = panel["datasource"]["uid"]
        assert uid_ref in DATASOURCE_VARIABLES, f"{uid} / {panel['title']}: data source {uid_ref} is not a variable"
        name, kind = DATASOURCE_VARIABLES[uid_ref]
        assert panel["datasource"]["type"] == kind and variables[name]["query"] == kind
        assert panel["targets"], f"{uid} / {panel['title']}: no query"
        assert all(t["datasource"] == panel["datasource"] for t in panel["targets"])
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"]), "refIds repeat"


@pytest.mark.parametrize("uid", sorted(STABLE_UIDS))
def test_panels_have_unique_ids_and_titles(boards: dict[str, dict[str, Any]], uid: str) -> None:
    """Panel ids (what a link to one panel uses) and titles are unique within each dashboard."""
    board = boards[uid]
    ids = [p["id"] for p in board["panels"]]
    titles = [p["title"] for p in panels(board)]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) and i > 0 for i in ids)
    assert len(titles) == len(set(titles)), f"{uid}: repeated titles"


@pytest.mark.parametrize("uid", sorted(STABLE_UIDS))
def test_each_dashboard_shows_what_the_issue_asks(boards: dict[str, dict[str, Any]], uid: str) -> None:
    """The panels issue 7 asks for are on their dashboard, each with at least one query."""
    board = boards[uid]
    with_queries = {q.panel for q in queries(board)}
    assert REQUIRED_PANELS[uid] <= with_queries


def test_dashboards_link_to_each_other_and_are_tagged(boards: dict[str, dict[str, Any]]) -> None:
    """Every dashboard carries the `siem` tag and a link menu of the dashboards tagged so."""
    for uid, board in boards.items():
        assert "siem" in board["tags"], uid
        assert any(link["type"] == "dashboards" and link["tags"] == ["siem"] for link in board["links"]), uid
