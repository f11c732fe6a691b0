"""Reconciliation: is every event accepted at ingest in Loki, and how many times?

Loki drops an entry identical to one it holds (same stream, timestamp and line), so a
redelivered event is stored once. The gateway counts the entries Loki accepted; the
difference from what Loki holds is the redeliveries it dropped. The same event id under
two different entries would mean the sink wrote two different lines for one event, and is
reported as a duplicate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from tests.loki.gateway import LokiGateway
from tests.loki.loki_service import query_range


@dataclass(frozen=True)
class Reconciliation:
    expected: int
    missing: list[str]
    duplicates: dict[str, int]  # event id -> entries holding it, where more than one
    stored: int
    accepted_pushes_entries: int  # entries in pushes Loki answered 2xx to (redeliveries included)

    @property
    def redeliveries_dropped(self) -> int:
        return max(0, self.accepted_pushes_entries - self.stored)

    def report(self) -> str:
        return (
            f"reconciliation: {self.expected} accepted at ingest, {self.expected - len(self.missing)} found in Loki, "
            f"{len(self.missing)} missing {self.missing[:5]}; {len(self.duplicates)} stored more than once "
            f"{dict(list(self.duplicates.items())[:5])}; {self.stored} entries stored, "
            f"{self.accepted_pushes_entries} pushed, {self.redeliveries_dropped} redeliveries dropped as identical"
        )


def reconcile(accepted_ids: Iterable[str], gateway: LokiGateway, tenant: str) -> Reconciliation:
    """Compare the ids ingest accepted with the event ids in the lines Loki holds for `tenant`."""
    entries = query_range(gateway.loki_url, tenant, '{module=~".+"}')
    stored = Counter(str(orjson.loads(entry.line)["id"]) for entry in entries)
    expected = list(dict.fromkeys(accepted_ids))
    return Reconciliation(
        expected=len(expected),
        missing=[i for i in expected if i not in stored],
        duplicates={i: n for i, n in stored.items() if n > 1},
        stored=len(entries),
        accepted_pushes_entries=gateway.stats["entries_accepted"],
    )
