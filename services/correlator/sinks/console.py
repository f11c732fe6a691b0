"""Console sink: one readable line per alert, for someone watching `siem run all`."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from services.correlator.sinks.alert_record import AlertLike
from services.shared.alert import rfc3339_utc
from services.shared.metrics import SINK_SENT


def summary_line(alert: AlertLike) -> str:
    group = " ".join(f"{k}={v}" for k, v in alert.group.items())
    when = rfc3339_utc(alert.last_seen)
    return (
        f"ALERT [{alert.rule.level}] {alert.rule.title} ({alert.rule.id}) {group} "
        f"count={alert.count} last_seen={when} id={alert.id}".replace("  ", " ")
    )


class ConsoleSink:
    name = "console"

    async def send(self, alerts: Sequence[AlertLike]) -> None:
        for alert in alerts:
            print(summary_line(alert), file=sys.stdout, flush=True)
        SINK_SENT.labels(self.name).inc(len(alerts))
