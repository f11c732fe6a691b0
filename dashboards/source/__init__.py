"""The SIEM dashboards as code (grafana-foundation-sdk); `python -m dashboards.source` writes dashboards/<uid>.json.

One module per dashboard, each with its `UID` (also the JSON file's stem) and `build()`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders.dashboard import Dashboard
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from dashboards.source import app, auth, ci, git, kubernetes, overview, pipeline

FOLDER = Path(__file__).resolve().parent.parent  # dashboards/: where Grafana's provider and the chart read them

DASHBOARDS: dict[str, Callable[[], Dashboard]] = {
    module.UID: module.build for module in (overview, auth, kubernetes, git, ci, pipeline, app)
}


def render(uid: str) -> dict[str, Any]:
    """The dashboard's JSON model, panels numbered in order so links to a panel stay stable."""
    model: dict[str, Any] = json.loads(JSONEncoder().encode(DASHBOARDS[uid]().build()))
    for number, panel in enumerate(model.get("panels", []), start=1):
        panel["id"] = number
    return model


def text(uid: str) -> str:
    return json.dumps(render(uid), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def path(uid: str) -> Path:
    return FOLDER / f"{uid}.json"
