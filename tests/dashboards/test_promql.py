"""Every PromQL query of the dashboards: metrics and labels the services export, and valid for `promtool`.

The metric inventory is read from the services' metric modules (the objects prometheus-client
registers); the expressions are parsed with promql-parser to walk them, and checked by the real
`promtool check rules` (Debian's `prometheus` package), which must be installed: a missing
promtool fails the test.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
from pathlib import Path

import promql_parser
import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from tests.dashboards.grafana_json import PROMETHEUS, Query, concrete, every_query, load_boards

BOARDS = load_boards()
QUERIES = every_query(BOARDS, PROMETHEUS)
METRIC_MODULES = (
    "services.shared.metrics",
    "services.correlator.metrics",
    "services.ingest.metrics",
    "services.webhook.metrics",
    "services.flask_app.metrics",
)
TARGET_LABELS = {"job", "instance"}  # added by Prometheus to every scraped series
_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("_sum", "_count", ""),
}


def exported() -> dict[str, set[str]]:
    """Every series name the services expose, with its label names (a histogram's buckets also have `le`)."""
    series: dict[str, set[str]] = {}
    for module in map(importlib.import_module, METRIC_MODULES):
        for metric in vars(module).values():
            if isinstance(metric, MetricWrapperBase):
                [family] = metric.describe()
                labels = set(metric._labelnames)  # no public accessor; stable across prometheus-client releases
                for suffix in _SUFFIXES[family.type]:
                    series[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return series


def problems(expr: str) -> list[str]:
    """Metric names the services do not export, and label names none of the query's metrics has."""
    inventory, found, selectors, grouping = exported(), [], [], []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            selectors.append(node)
        elif isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            grouping.extend(node.modifier.labels)
        elif isinstance(node, promql_parser.BinaryExpr) and node.modifier and node.modifier.matching:
            grouping.extend(node.modifier.matching.labels)

    promql_parser.walk(promql_parser.parse(expr), visit)
    union = set(TARGET_LABELS)
    for selector in selectors:
        if selector.name not in inventory:
            found.append(f"metric {selector.name}")
            continue
        labels = inventory[selector.name] | TARGET_LABELS
        union |= labels
        found += [f"label {m.name} of {selector.name}" for m in selector.matchers.matchers if m.name not in labels]
    found += [f"grouping label {label}" for label in grouping if label not in union]
    return found


def _id(query: Query) -> str:
    return f"{query.board}/{query.panel}"


def test_the_inventory_holds_every_metric_family() -> None:
    """The inventory sees the shared, correlator, ingest, webhook and app metrics, with their labels."""
    inventory = exported()
    assert inventory["siem_messages_consumed_total"] == {"stage", "topic"}
    assert inventory["flask_request_duration_seconds_bucket"] == {"method", "endpoint", "le"}
    assert {"siem_rules_loaded", "siem_webhook_refusals_total", "siem_ingest_rejected_total"} <= set(inventory)


def test_the_metric_check_catches_unknown_metrics_and_labels() -> None:
    """A made-up metric (consumer lag is not exported), a label it lacks, or a wrong grouping is caught."""
    assert problems("sum(siem_consumer_lag_messages)") == ["metric siem_consumer_lag_messages"]
    assert problems('rate(siem_sink_sent_total{stage="x"}[5m])') == ["label stage of siem_sink_sent_total"]
    assert problems("sum by (sinks) (rate(siem_sink_sent_total[5m]))") == ["grouping label sinks"]
    assert problems("sum by (sink, instance) (rate(siem_sink_sent_total[5m]))") == []


@pytest.mark.parametrize("query", QUERIES, ids=_id)
def test_promql_uses_metrics_and_labels_the_services_export(query: Query) -> None:
    """Every metric a query reads is exported by a service, and every label it names is one of theirs."""
    assert problems(concrete(query, BOARDS[query.board])) == [], str(query)


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is missing: apt-get install -y --no-install-recommends prometheus")
    return found


def _check_rules(tmp_path: Path, expressions: list[str]) -> subprocess.CompletedProcess[str]:
    rules = [{"record": f"dashboard:query_{n}", "expr": expr} for n, expr in enumerate(expressions)]
    path = tmp_path / "dashboards.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}, sort_keys=False))
    return subprocess.run([_promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)


def test_promtool_accepts_every_expression(tmp_path: Path) -> None:
    """`promtool check rules` accepts every dashboard expression, each as a recording rule."""
    expressions = [concrete(q, BOARDS[q.board]) for q in QUERIES]
    assert len(expressions) > 20
    checked = _check_rules(tmp_path, expressions)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(expressions)} rules found" in checked.stdout


def test_promtool_refuses_a_broken_expression(tmp_path: Path) -> None:
    """The promtool check can fail: an unbalanced expression is refused."""
    checked = _check_rules(tmp_path, ["sum by (stage (rate(siem_errors_total[5m]))"])
    assert checked.returncode != 0
