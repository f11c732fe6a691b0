"""Alertmanager sink: `POST /api/v2/alerts` to every configured Alertmanager, and re-posts until resolved.

Labels are few and stable (alertname, rule_id, severity and the group-by values) so that
Alertmanager merges repeats of the same alert instead of paging once per event; everything
else is an annotation. How active and resolved alerts are re-posted: alert_table.py and
docs/sinks/alertmanager.md.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
import structlog

from services.correlator.sinks.alert_record import AlertLike
from services.correlator.sinks.alert_table import AlertTable
from services.correlator.sinks.settings import SinksSettings
from services.shared.alert import rfc3339_utc
from services.shared.errors import SinkError
from services.shared.metrics import ERRORS, SINK_SENT

log = structlog.get_logger()

_LABEL_NAME = re.compile(r"[^a-zA-Z0-9_]")
_MAX_EVENT_IDS_SHOWN = 10
_EXPLORE_MARGIN = timedelta(minutes=5)
_POST_CHUNK = 500  # alerts per request when re-posting a large table
_JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class AlertLinks:
    """Where an alert's links point: Grafana Explore on its hunt query, and the rule's runbook."""

    grafana_url: str | None = None
    loki_datasource_uid: str = "loki"
    runbook_url_template: str | None = None


def build_alertmanager_alerts(alerts: Sequence[AlertLike], links: AlertLinks | None = None) -> list[dict[str, Any]]:
    """The `postableAlerts` body for Alertmanager's API v2 (pure: golden-tested)."""
    return [_postable(alert, links or AlertLinks()) for alert in alerts]


def _postable(alert: AlertLike, links: AlertLinks) -> dict[str, Any]:
    rule = alert.rule
    labels = {"alertname": rule.title, "rule_id": rule.id, "severity": alert.severity or rule.level}
    for name, value in alert.group.items():
        label = _label_name(name)
        # A group-by field named like a core label (syslog's `severity`) must not change routing.
        labels["group_" + label if label in labels else label] = "" if value is None else str(value)
    # Most alerts have no group and no ATT&CK technique: those joins are skipped, not made of nothing.
    group = ", ".join([f"{k}={v}" for k, v in alert.group.items()]) if alert.group else ""
    attack = alert.attack
    annotations = {
        "summary": f"{rule.title} ({group})" if group else rule.title,
        "description": rule.description or rule.title,
        "runbook": rule.runbook or "",
        "runbook_url": links.runbook_url_template.replace("{rule_id}", rule.id) if links.runbook_url_template else "",
        "attack_techniques": ", ".join([f"{t.id} {t.name}" for t in attack]) if attack else "",
        "attack_tactics": ", ".join(dict.fromkeys([tactic for t in attack for tactic in t.tactics])) if attack else "",
        "risk_score": "" if alert.risk_score is None else str(alert.risk_score),
        "alert_id": alert.id,
        "count": str(alert.count),
        "event_ids": ",".join(alert.event_ids[:_MAX_EVENT_IDS_SHOWN]),
        "hunt": alert.hunt,
        "tags": ",".join(rule.tags),
    }
    postable: dict[str, Any] = {
        "labels": labels,
        "annotations": {k: v for k, v in annotations.items() if v},
        "startsAt": rfc3339_utc(alert.first_seen),
    }
    if links.grafana_url:
        postable["generatorURL"] = explore_url(links.grafana_url, links.loki_datasource_uid, alert)
    return postable


def explore_url(grafana_url: str, datasource_uid: str, alert: AlertLike) -> str:
    """Grafana Explore on the alert's hunt query, over its time span with a margin either side."""
    start = alert.first_seen - _EXPLORE_MARGIN
    end = alert.last_seen + _EXPLORE_MARGIN
    pane = {
        "datasource": datasource_uid,
        "queries": [
            {
                "refId": "A",
                "expr": alert.hunt,
                "queryType": "range",
                "datasource": {"type": "loki", "uid": datasource_uid},
            }
        ],
        "range": {"from": str(int(start.timestamp() * 1000)), "to": str(int(end.timestamp() * 1000))},
    }
    query = urlencode({"schemaVersion": "1", "panes": orjson.dumps({"siem": pane}).decode()})
    return f"{grafana_url.rstrip('/')}/explore?{query}"


def _label_name(field: str) -> str:
    name = _LABEL_NAME.sub("_", field)
    return name if not name[:1].isdigit() else f"_{name}"


def _hold(alert: AlertLike) -> timedelta | None:
    """How long after its last event the alert still holds: to its window's close or suppression's end."""
    return alert.ends_at - alert.last_seen if alert.ends_at else None


class AlertmanagerSink:
    """Posts to every peer; one peer's answer is enough, the re-posts bring a lagging peer up to date."""

    name = "alertmanager"

    def __init__(self, settings: SinksSettings, session: aiohttp.ClientSession) -> None:
        self._endpoints = [url.rstrip("/") + "/api/v2/alerts" for url in settings.alertmanager_url]
        self._session = session
        self._links = AlertLinks(
            settings.grafana_url, settings.grafana_loki_datasource_uid, settings.runbook_url_template
        )
        self._resend_seconds = settings.alertmanager_resend_seconds
        self.table = AlertTable(
            max_alerts=settings.alertmanager_max_tracked_alerts,
            active_seconds=settings.alert_active_seconds,
            resolved_seconds=settings.alertmanager_resolved_resend_seconds,
        )

    async def send(self, alerts: Sequence[AlertLike]) -> None:
        now = datetime.now(UTC)
        payloads = build_alertmanager_alerts(alerts, self._links)
        await self._post_everywhere(
            [self.table.track(p, a.first_seen, now, _hold(a)) for p, a in zip(payloads, alerts, strict=True)]
        )
        SINK_SENT.labels(self.name).inc(len(alerts))

    async def maintain(self, stopping: asyncio.Event) -> None:
        """Re-post the table every `alertmanager_resend_seconds` until the stage stops."""
        while True:
            try:
                await asyncio.wait_for(stopping.wait(), self._resend_seconds)
                return
            except TimeoutError:
                pass
            due = self.table.due(datetime.now(UTC))
            try:
                for start in range(0, len(due), _POST_CHUNK):
                    await self._post_everywhere(due[start : start + _POST_CHUNK])
            except SinkError as exc:
                log.warning("alerts_resend_failed", sink=self.name, reason=exc.reason, alerts=len(due))
                continue
            if due:
                log.info("alerts_resent", sink=self.name, alerts=len(due), peers=len(self._endpoints))

    async def _post_everywhere(self, body: list[dict[str, Any]]) -> None:
        outcomes = await asyncio.gather(*(self._post(e, body) for e in self._endpoints), return_exceptions=True)
        failures = [o for o in outcomes if o is not None]
        for failure in failures:
            if not isinstance(failure, SinkError):
                raise failure  # a bug, not a delivery problem
            ERRORS.labels("alert_delivery", "alertmanager_peer_failed").inc()
            log.warning("alertmanager_peer_failed", reason=failure.reason)
        if len(failures) == len(outcomes):
            errors = [f for f in failures if isinstance(f, SinkError)]
            reasons = "; ".join(e.reason for e in errors)
            raise SinkError(self.name, reasons, retriable=any(e.retriable for e in errors))

    async def _post(self, endpoint: str, body: list[dict[str, Any]]) -> None:
        try:
            # orjson, not aiohttp's `json=` (the standard library's encoder, several times slower).
            async with self._session.post(endpoint, data=orjson.dumps(body), headers=_JSON) as response:
                if response.status < 300:
                    return
                detail = (await response.text())[:200]
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SinkError(self.name, f"{endpoint}: {type(exc).__name__}", retriable=True) from None
        retriable = response.status >= 500 or response.status == 429
        raise SinkError(self.name, f"{endpoint} answered {response.status}: {detail}", retriable=retriable)
