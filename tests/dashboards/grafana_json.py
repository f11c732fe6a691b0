"""The committed dashboard JSON read the way Grafana reads it: panels (inside rows too), queries and variables.

`concrete` does Grafana's part before a query reaches Loki or Prometheus: it replaces the
dashboard's variables and Grafana's built-in intervals with values, and refuses any it does not know.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).resolve().parents[2] / "dashboards"
LOKI = "${DS_LOKI}"
PROMETHEUS = "${DS_PROMETHEUS}"
# Grafana's built-ins, as a one-hour dashboard with a one-minute step would fill them in.
BUILT_INS = {"__auto": "1m", "__interval": "1m", "__rate_interval": "1m", "__range": "1h"}
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


@dataclass(frozen=True)
class Query:
    board: str  # the dashboard's uid
    panel: str  # the panel's title (or the variable's name)
    datasource: str  # `${DS_LOKI}` or `${DS_PROMETHEUS}`
    expr: str
    instant: bool = False

    def __str__(self) -> str:
        return f"{self.board} / {self.panel}: {self.expr}"


def load_boards() -> dict[str, dict[str, Any]]:
    """Every dashboard Grafana's provider and the chart load: the JSON files at the top of dashboards/."""
    boards = {}
    for path in sorted(FOLDER.glob("*.json")):
        board = json.loads(path.read_text())
        boards[board["uid"]] = board
    return boards


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel that shows data; a collapsed row holds its panels inside it."""
    for panel in board.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def queries(board: dict[str, Any]) -> Iterator[Query]:
    for panel in panels(board):
        for target in panel.get("targets", []):
            source = (target.get("datasource") or panel.get("datasource") or {}).get("uid", "")
            instant = target.get("queryType") == "instant" or bool(target.get("instant"))
            yield Query(board["uid"], panel["title"], source, target["expr"], instant)


def variable_queries(board: dict[str, Any]) -> Iterator[Query]:
    for variable in board.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            source = variable.get("datasource", {}).get("uid", "")
            yield Query(board["uid"], f"${variable['name']}", source, variable["query"])


def every_query(boards: dict[str, dict[str, Any]], datasource: str) -> list[Query]:
    found = [q for board in boards.values() for q in (*queries(board), *variable_queries(board))]
    return [q for q in found if q.datasource == datasource]


def concrete(query: Query, board: dict[str, Any]) -> str:
    """The expression with every variable replaced: a query variable by its "All" value, built-ins by a value."""
    values = dict(BUILT_INS)
    for variable in board.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            values[variable["name"]] = variable.get("allValue", ".*")

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"{query}: unknown variable ${name}")
        return values[name]

    return _VARIABLE.sub(replace, query.expr)
