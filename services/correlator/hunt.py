"""The `hunt` LogQL an alert carries: a query that shows the events behind it in Grafana Explore.

It selects on the `module` stream label, which the Loki sink must emit (its label set is the
contract), and filters the JSON lines on the envelope ids.
"""

from __future__ import annotations

import re


def hunt_query(module: str, event_ids: list[str]) -> str:
    ids = "|".join(re.escape(i) for i in event_ids)
    return f'{{module="{_label_value(module)}"}} | json | id=~"{_label_value(ids)}"'


def _label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
