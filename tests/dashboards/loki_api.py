"""Loki's HTTP query API as the dashboards use it: format a query, run it over the last hour, list label values."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

STEP_SECONDS = 60
WINDOW_SECONDS = 3600


def loki_get(url: str, tenant: str, path: str, **params: Any) -> tuple[int, Any]:
    """(status, decoded JSON or the error text) of a GET on Loki's API for `tenant`."""
    request = urllib.request.Request(f"{url}{path}?{urllib.parse.urlencode(params)}", headers={"X-Scope-OrgID": tenant})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode(errors="replace")


def format_query(url: str, query: str) -> tuple[int, Any]:
    """Loki's own parser: 200 with the formatted query, 400 with the parse error."""
    return loki_get(url, "anonymous", "/loki/api/v1/format_query", query=query)


def query_range(url: str, tenant: str, query: str) -> tuple[int, Any]:
    """The query over the last hour (and ten minutes ahead), one-minute steps, as a Grafana panel runs it."""
    now = time.time_ns()
    return loki_get(
        url,
        tenant,
        "/loki/api/v1/query_range",
        query=query,
        start=now - WINDOW_SECONDS * 10**9,
        end=now + 600 * 10**9,
        step=STEP_SECONDS,
        limit=5000,
    )


def returned(result: dict[str, Any]) -> int:
    """How many log entries, or points of series, the query returned."""
    return sum(len(item["values"]) for item in result["data"]["result"])


def by_label(result: dict[str, Any], label: str) -> dict[str, float]:
    """Per value of `label`, the sum of every point of its series: with `[1m]` windows one step apart, each
    event is counted in exactly one point, so the sum is the number of events."""
    sums: dict[str, float] = {}
    for series in result["data"]["result"]:
        key = series["metric"].get(label, "")
        sums[key] = sums.get(key, 0) + sum(float(v) for _, v in series["values"])
    return sums
