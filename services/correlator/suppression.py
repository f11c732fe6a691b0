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
from services.shared.alert import Alert, RuleRef, Scalar
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
def alerts_counter(level: str) -> Counter:
    """`siem_alerts_total` of one rule level."""
    return ALERTS.labels(level)


class Suppressor:
    def __init__(self, default_seconds: float, per_rule_seconds: dict[str, float]) -> None:
        self.default_seconds = default_seconds
        self._per_rule = per_rule_seconds
        self._quiet_until: dict[str, datetime] = {}

    def emit(self, alert: Alert, alerts: list[Alert]) -> None:
        """Stage 2 raises alerts through here: admitted ones join `alerts`; either way it is counted."""
        admitted, quiet_until = self.decide(alert.rule, alert.group, alert.last_seen)
        if not admitted:
            return
        alerts_counter(alert.rule.level).inc()
        if quiet_until is not None:
            ends_at = max(quiet_until, alert.ends_at) if alert.ends_at else quiet_until
            alert = alert.model_copy(update={"ends_at": ends_at})
        alerts.append(alert)

    def decide(self, rule: RuleRef, group: dict[str, Scalar], moment: datetime) -> tuple[bool, datetime | None]:
        """Whether an alert of `rule` about `group` at `moment` may go out.

        When it may and the rule is suppressed, its rule and group go quiet until the time
        returned (the alert's `ends_at`); without suppression that time is None. Stage 1 asks
        this before it builds anything of the alert. A suppressed alert is counted here, one
        that goes out by the caller (`siem_alerts_total`: stage 1 adds them up per batch).
        """
        period = self._per_rule.get(rule.id, self.default_seconds)
        if period <= 0:
            return True, None
        # As text: orjson's bytes would keep its 4 KiB buffer for as long as the entry lives.
        key = orjson.dumps([rule.id, group], option=orjson.OPT_SORT_KEYS).decode()
        until = self._quiet_until.get(key)
        if until is not None and moment < until:
            SUPPRESSED.labels(rule.id).inc()
            return False, None
        if len(self._quiet_until) >= _SWEEP_EVERY:
            self._quiet_until = {k: v for k, v in self._quiet_until.items() if v > moment}
        quiet_until = moment + timedelta(seconds=period)
        self._quiet_until[key] = quiet_until
        return True, quiet_until
