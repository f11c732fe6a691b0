"""The alerts Alertmanager must keep hearing about: active ones until they end, resolved ones for a while after.

Alertmanager keeps alerts in memory only: a restarted peer knows nothing until a client
posts again, and an alert nobody re-posts resolves itself after `resolve_timeout`. So the
Alertmanager sink remembers what it sent (bounded, keyed by label set, as Alertmanager
keys them) and re-posts it on a timer, with `endsAt` telling when it ends or ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from services.shared.alert import rfc3339_utc

log = structlog.get_logger()

LabelSet = tuple[tuple[str, str], ...]


@dataclass(slots=True)
class _Tracked:
    payload: dict[str, Any]
    starts_at: datetime
    ends_at: datetime


class AlertTable:
    """At most `max_alerts` label sets; when full, the one due to resolve first is forgotten."""

    def __init__(self, *, max_alerts: int, active_seconds: float, resolved_seconds: float) -> None:
        self._max = max_alerts
        self._active = timedelta(seconds=active_seconds)
        self._resolved = timedelta(seconds=resolved_seconds)
        self._alerts: dict[LabelSet, _Tracked] = {}

    def __len__(self) -> int:
        return len(self._alerts)

    def track(
        self, payload: dict[str, Any], starts_at: datetime, now: datetime, hold: timedelta | None = None
    ) -> dict[str, Any]:
        """Remember an alert (a repeat of a label set extends it) and return it as it must be posted now.

        It stays active for `active_seconds`, or for `hold` when longer: the event time left until
        its correlation window closes or its suppression ends, counted from now.
        """
        key = label_set(payload)
        known = self._alerts.get(key)
        if known is None and len(self._alerts) >= self._max:
            oldest = min(self._alerts, key=lambda k: self._alerts[k].ends_at)
            del self._alerts[oldest]
            log.warning("alert_untracked", reason="alert table full", max_alerts=self._max)
        if known is not None and known.ends_at > now:
            starts_at = min(starts_at, known.starts_at)  # a repeat while active is the same firing
        tracked = _Tracked(payload, min(starts_at, now), now + max(self._active, hold or timedelta(0)))
        self._alerts[key] = tracked
        return _postable(tracked)

    def due(self, now: datetime) -> list[dict[str, Any]]:
        """Everything to re-post: active alerts, and resolved ones younger than the resolved window."""
        expired = [k for k, t in self._alerts.items() if t.ends_at + self._resolved < now]
        for key in expired:
            del self._alerts[key]
        return [_postable(t) for t in self._alerts.values()]


def label_set(payload: dict[str, Any]) -> LabelSet:
    return tuple(sorted(payload["labels"].items()))


def _postable(tracked: _Tracked) -> dict[str, Any]:
    return {**tracked.payload, "startsAt": rfc3339_utc(tracked.starts_at), "endsAt": rfc3339_utc(tracked.ends_at)}
