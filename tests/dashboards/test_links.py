"""The latest-alerts table's links: from each alert to its events (the `hunt` query) and to its rule's events.

Grafana cannot run here, so the test does what Grafana does with a data link: it fills the
`${…}` placeholders with the row's values, percent-encoded (Grafana's default for data links),
then reads the Explore URL back and runs its query on the real Loki.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import aiohttp

from services.correlator.hunt import hunt_query
from services.correlator.sinks.loki import LokiSink
from services.correlator.sinks.record import record_of
from services.correlator.sinks.settings import SinksSettings
from services.shared.alert import RuleRef
from services.shared.event import EnrichedEvent
from tests.dashboards.conftest import Seeded
from tests.dashboards.grafana_json import concrete, load_boards, panels, queries
from tests.dashboards.loki_api import query_range
from tests.loki.loki_service import LokiService

BOARD = load_boards()["siem-overview"]
TABLE = next(p for p in panels(BOARD) if p["title"] == "Latest alerts")
TABLE_QUERY = concrete(next(q for q in queries(BOARD) if q.panel == "Latest alerts"), BOARD)
LINKS = {link["title"]: link["url"] for link in TABLE["fieldConfig"]["defaults"]["links"]}
_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


def follow(url: str, row: dict[str, str]) -> dict[str, Any]:
    """The Explore pane a click on the row's link opens (Grafana fills the placeholders, percent-encoded)."""
    now_ms = int(time.time() * 1000)
    values = {"DS_LOKI": "loki", "__from": str(now_ms - 3_600_000), "__to": str(now_ms)}
    values |= {f"__data.fields.{name}": value for name, value in row.items()}
    filled = _PLACEHOLDER.sub(lambda m: quote(values[m.group(1)], safe="-_.!~*'()"), url)
    parts = urlsplit(filled)
    params = parse_qs(parts.query)
    assert parts.path == "/explore" and params["schemaVersion"] == ["1"]
    [pane] = json.loads(params["panes"][0]).values()
    [query] = pane["queries"]
    assert pane["datasource"] == "loki" and query["datasource"] == {"type": "loki", "uid": "loki"}
    assert pane["range"] == {"from": values["__from"], "to": values["__to"]}
    return dict(query)


def rows(url: str, tenant: str) -> list[dict[str, str]]:
    """The table's rows: the labels of each entry its query returns (Grafana's extractFields on `labels`)."""
    status, answer = query_range(url, tenant, TABLE_QUERY)
    assert status == 200, answer
    return [stream["stream"] for stream in answer["data"]["result"] for _ in stream["values"]]


def ids(url: str, tenant: str, expr: str) -> list[str]:
    status, answer = query_range(url, tenant, expr)
    assert status == 200, f"{expr}\n{answer}"
    return sorted(json.loads(line)["id"] for s in answer["data"]["result"] for _, line in s["values"])


def test_each_alert_links_to_its_events_like_its_hunt_query(seeded: Seeded) -> None:
    """For every row, 'Events behind this alert' opens exactly the event of that alert, as its hunt query does."""
    table = rows(seeded.url, seeded.tenant)
    assert len(table) == sum(1 for e in seeded.events if e.matches)
    for row in table:
        linked = ids(seeded.url, seeded.tenant, follow(LINKS["Events behind this alert"], row)["expr"])
        hunted = ids(seeded.url, seeded.tenant, hunt_query([row["module"]], [row["envelope_id"]]))
        assert linked == hunted == [row["envelope_id"]]


def test_each_alert_links_to_every_event_of_its_rule(seeded: Seeded) -> None:
    """'All events of this rule' opens every event that matched the row's rule, and no other."""
    table = rows(seeded.url, seeded.tenant)
    for rule_id in {row["rule_id"] for row in table}:
        row = next(r for r in table if r["rule_id"] == rule_id)
        linked = ids(seeded.url, seeded.tenant, follow(LINKS["All events of this rule"], row)["expr"])
        assert linked == sorted(e.id for e in seeded.events if any(m.id == rule_id for m in e.matches))


def test_a_sender_chosen_id_survives_the_link(loki_service: LokiService, tenant: str) -> None:
    """An id with URL-special characters (a generic event's sender chooses it) still opens its event."""
    moment = datetime.now(UTC)
    event = EnrichedEvent(
        id="order 17&x=1#frag%20?/+",
        time=moment,
        ingested=moment,
        event={"module": "generic"},
        matches=[RuleRef(id="r-generic", title="Generic test rule", level="low")],
    )

    async def push() -> None:
        async with aiohttp.ClientSession() as session:
            await LokiSink(SinksSettings(loki_url=loki_service.url, loki_tenant=tenant), session).send(
                [record_of(event)]
            )

    asyncio.run(push())
    [row] = rows(loki_service.url, tenant)
    assert row["envelope_id"] == event.id
    assert ids(loki_service.url, tenant, follow(LINKS["Events behind this alert"], row)["expr"]) == [event.id]
