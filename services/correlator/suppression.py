"""Opt-in suppression: after an alert, the same rule and group stay quiet for a period of event time.

Per rule with a `suppress: 10m` key in the rule (a Sigma custom attribute, same units as
`timespan`), or for every rule with SIEM_SUPPRESS_SECONDS. Event time keeps replays
deterministic. The table is bounded: expired entries are swept as it grows.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import lru_cache

import orjson
from prometheus_client import Counter

from services.correlator.metrics import SUPPRESSED
from services.shared.alert import Alert
from services.shared.errors import RuleError
from services.shared.metrics import ALERTS

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdwMy])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "M": 2592000, "y": 31536000}
_SWEEP_EVERY = 10_000


def duration_seconds(text: str, location: str) -> float:
    match = _DURATION.match(str(text))
    if not match:
        raise RuleError(location, f"duration {text!r}: expected a number and a unit such as 30s, 10m, 1h, 1d")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


@lru_cache(maxsize=64)  # a handful of levels; `labels()` costs more than the increment, once per alert
def _alerts_counter(level: str) -> Counter:
    return ALERTS.labels(level)


class Suppressor:
    def __init__(self, default_seconds: float, per_rule_seconds: dict[str, float]) -> None:
        self.default_seconds = default_seconds
        self._per_rule = per_rule_seconds
        self._quiet_until: dict[bytes, datetime] = {}

    def emit(self, alert: Alert, alerts: list[Alert]) -> None:
        """Both stages raise alerts through here: admitted ones join `alerts`, either way it is counted."""
        admitted = self.admit(alert)
        if admitted is None:
            SUPPRESSED.labels(alert.rule.id).inc()
            return
        alerts.append(admitted)
        _alerts_counter(alert.rule.level).inc()

    def admit(self, alert: Alert) -> Alert | None:
        """The alert if it may go out (then its rule and group go quiet, and `ends_at` says until when)."""
        period = self._per_rule.get(alert.rule.id, self.default_seconds)
        if period <= 0:
            return alert
        key = orjson.dumps([alert.rule.id, alert.group], option=orjson.OPT_SORT_KEYS)
        until = self._quiet_until.get(key)
        if until is not None and alert.last_seen < until:
            return None
        if len(self._quiet_until) >= _SWEEP_EVERY:
            self._quiet_until = {k: v for k, v in self._quiet_until.items() if v > alert.last_seen}
        quiet_until = alert.last_seen + timedelta(seconds=period)
        self._quiet_until[key] = quiet_until
        ends_at = max(quiet_until, alert.ends_at) if alert.ends_at else quiet_until
        return alert.model_copy(update={"ends_at": ends_at})
