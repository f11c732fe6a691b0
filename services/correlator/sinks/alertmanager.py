"""Alertmanager sink: `POST /api/v2/alerts` to every configured Alertmanager.

Labels are few and stable (alertname, rule_id, severity and the group-by values) so that
Alertmanager merges repeats of the same alert instead of paging once per event.
"""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from services.shared.alert import Alert, rfc3339_utc
from services.shared.errors import SinkError
from services.shared.metrics import SINK_SENT

_LABEL_NAME = re.compile(r"[^a-zA-Z0-9_]")
_MAX_EVENT_IDS_SHOWN = 10


def build_alertmanager_alerts(alerts: list[Alert]) -> list[dict[str, Any]]:
    """The `postableAlerts` body for Alertmanager's API v2 (pure: golden-tested)."""
    return [_postable(alert) for alert in alerts]


def _postable(alert: Alert) -> dict[str, Any]:
    labels = {"alertname": alert.rule.title, "rule_id": alert.rule.id, "severity": alert.rule.level}
    for name, value in alert.group.items():
        label = _label_name(name)
        # A group-by field named like a core label (syslog's `severity`) must not change routing.
        labels["group_" + label if label in labels else label] = "" if value is None else str(value)
    annotations = {
        "summary": alert.rule.title,
        "description": alert.rule.description or alert.rule.title,
        "alert_id": alert.id,
        "count": str(alert.count),
        "event_ids": ",".join(alert.event_ids[:_MAX_EVENT_IDS_SHOWN]),
        "hunt": alert.hunt,
        "tags": ",".join(alert.rule.tags),
    }
    return {
        "labels": labels,
        "annotations": {k: v for k, v in annotations.items() if v},
        "startsAt": rfc3339_utc(alert.first_seen),
    }


def _label_name(field: str) -> str:
    name = _LABEL_NAME.sub("_", field)
    return name if not name[:1].isdigit() else f"_{name}"


class AlertmanagerSink:
    name = "alertmanager"

    def __init__(self, urls: list[str], session: aiohttp.ClientSession) -> None:
        self._endpoints = [url.rstrip("/") + "/api/v2/alerts" for url in urls]
        self._session = session

    async def send(self, alerts: list[Alert]) -> None:
        body = build_alertmanager_alerts(alerts)
        # Every peer of an HA pair gets every alert; they deduplicate between themselves.
        for endpoint in self._endpoints:
            await self._post(endpoint, body)
        SINK_SENT.labels(self.name).inc(len(alerts))

    async def _post(self, endpoint: str, body: list[dict[str, Any]]) -> None:
        try:
            async with self._session.post(endpoint, json=body) as response:
                if response.status < 300:
                    return
                detail = (await response.text())[:200]
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SinkError(self.name, f"{endpoint}: {type(exc).__name__}", retriable=True) from None
        retriable = response.status >= 500 or response.status == 429
        raise SinkError(self.name, f"{endpoint} answered {response.status}: {detail}", retriable=retriable)
