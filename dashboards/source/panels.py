"""The pieces every SIEM dashboard is made of: data source variables, queries, and the few panel shapes we use.

Each panel helper takes a title and a description, so no panel can be built without them,
and a data source that is always a dashboard variable (`${DS_LOKI}`, `${DS_PROMETHEUS}`), so a
Grafana whose data sources have other uids picks its own from the variable's drop-down.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from grafana_foundation_sdk.builders import bargauge, common, logs, loki, prometheus, stat, table, timeseries
from grafana_foundation_sdk.builders import dashboard as grafana
from grafana_foundation_sdk.models.common import (
    BarGaugeDisplayMode,
    GraphDrawStyle,
    LegendDisplayMode,
    LegendPlacement,
    LogsSortOrder,
    StackingMode,
    VizOrientation,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DashboardLinkType,
    DataSourceRef,
    DataTransformerConfig,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

LOKI = DataSourceRef(type_val="loki", uid="${DS_LOKI}")
PROMETHEUS = DataSourceRef(type_val="prometheus", uid="${DS_PROMETHEUS}")
# The uids the provisioning files give the data sources (and the sinks' Explore links use): the variables' defaults.
DEFAULT_UIDS = {"loki": "loki", "prometheus": "prometheus", "alertmanager": "alertmanager"}
TAG = "siem"

Query = loki.Dataquery | prometheus.Dataquery


def dashboard(uid: str, title: str, description: str, *variables: grafana.DatasourceVariable) -> grafana.Dashboard:
    """A dashboard with our defaults: last 6 hours, refreshed every minute, linked to the other SIEM dashboards."""
    board = (
        grafana.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG])
        .time("now-6h", "now")
        .refresh("1m")
        .timezone("browser")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .link(
            grafana.DashboardLink("SIEM dashboards")
            .type(DashboardLinkType.DASHBOARDS)
            .tags([TAG])
            .as_dropdown(True)
            .keep_time(True)
            .include_vars(False)
        )
    )
    for variable in variables:
        board = board.with_variable(variable)
    return board


def datasource_variable(kind: str, label: str) -> grafana.DatasourceVariable:
    """`DS_<KIND>`: which data source of this type the dashboard reads, defaulting to the provisioned one."""
    uid = DEFAULT_UIDS[kind]
    return (
        grafana.DatasourceVariable(f"DS_{kind.upper()}")
        .label(label)
        .type(kind)
        .current(VariableOption(selected=True, text=label, value=uid))
    )


def loki_dashboard(uid: str, title: str, description: str, streams: str) -> grafana.Dashboard:
    """A dashboard over Loki alone, with an Environment filter on the `env` label of `streams`."""
    return dashboard(uid, title, description, datasource_variable("loki", "Loki")).with_variable(
        loki_label_variable("env", streams, "Environment")
    )


def loki_label_variable(label: str, selector: str, title: str) -> grafana.QueryVariable:
    """A filter on a Loki stream label; "All" is `.*`, which also keeps the streams that lack the label."""
    return (
        grafana.QueryVariable(label)
        .label(title)
        .datasource(LOKI)
        .query(f"label_values({selector}, {label})")
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(VariableOption(selected=True, text="All", value="$__all"))
    )


def logql(expr: str, *, legend: str = "", instant: bool = False, ref: str = "A", max_lines: int = 0) -> loki.Dataquery:
    query = loki.Dataquery().expr(expr).ref_id(ref).datasource(LOKI)
    if legend:
        query = query.legend_format(legend)
    if max_lines:
        query = query.max_lines(max_lines)
    return query.query_type("instant") if instant else query.query_type("range")


def promql(expr: str, *, legend: str = "", instant: bool = False, ref: str = "A") -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(PROMETHEUS)
    if legend:
        query = query.legend_format(legend)
    return query.instant() if instant else query.range()


def _datasource(queries: tuple[Query, ...]) -> DataSourceRef:
    kinds = {type(q) for q in queries}
    if len(kinds) != 1:
        raise ValueError("a panel reads one data source: give it queries of one kind")
    return LOKI if kinds == {loki.Dataquery} else PROMETHEUS


def series(
    title: str, description: str, *queries: Query, unit: str = "short", stacked: bool = False, bars: bool = False
) -> timeseries.Panel:
    """Values over time; counts are stacked bars, rates and durations lines."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(_datasource(queries))
        .unit(unit)
        .min(0)
        .fill_opacity(20 if not bars else 80)
        .draw_style(GraphDrawStyle.BARS if bars else GraphDrawStyle.LINE)
        .stacking(common.StackingConfig().mode(StackingMode.NORMAL if stacked else StackingMode.NONE))
        .legend(
            common.VizLegendOptions()
            .display_mode(LegendDisplayMode.TABLE)
            .placement(LegendPlacement.RIGHT)
            .show_legend(True)
            .calcs(["sum"] if bars else ["mean", "max"])
        )
        .span(12)
        .height(8)
    )
    for query in queries:
        panel = panel.with_target(query)
    return panel


def top(title: str, description: str, query: Query, *, unit: str = "short") -> bargauge.Panel:
    """A ranking over the dashboard's time range (an instant `topk` query), one bar per series."""
    return (
        bargauge.Panel()
        .title(title)
        .description(description)
        .datasource(_datasource((query,)))
        .with_target(query)
        .unit(unit)
        .min(0)
        .orientation(VizOrientation.HORIZONTAL)
        .display_mode(BarGaugeDisplayMode.BASIC)
        .show_unfilled(True)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .span(8)
        .height(8)
    )


def single(title: str, description: str, query: Query, *, unit: str = "short") -> stat.Panel:
    """One number over the dashboard's time range."""
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(_datasource((query,)))
        .with_target(query)
        .unit(unit)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .span(6)
        .height(4)
    )


def event_table(
    title: str, description: str, query: loki.Dataquery, columns: dict[str, str], *links: grafana.DashboardLink
) -> table.Panel:
    """Events as rows: the labels Loki returns (stream, structured metadata and `| json` fields) become
    columns; `columns` names, in order, the ones to show and their headers; everything else is hidden."""
    organize = {
        "includeByName": dict.fromkeys(["Time", *columns], True),
        "indexByName": {name: i for i, name in enumerate(["Time", *columns])},
        "renameByName": columns,
    }
    panel = (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(LOKI)
        .with_target(query)
        .with_transformation(DataTransformerConfig(id_val="extractFields", options={"source": "labels"}))
        .with_transformation(DataTransformerConfig(id_val="organize", options=organize))
        .filterable(True)
        .span(24)
        .height(10)
    )
    return panel.data_links(list(links)) if links else panel


def event_logs(title: str, description: str, query: loki.Dataquery) -> logs.Panel:
    """Events as log lines, newest first, with their labels and parsed fields one click away."""
    return (
        logs.Panel()
        .title(title)
        .description(description)
        .datasource(LOKI)
        .with_target(query)
        .show_time(True)
        .wrap_log_message(True)
        .enable_log_details(True)
        .sort_order(LogsSortOrder.DESCENDING)
        .span(24)
        .height(10)
    )


def explore_link(title: str, expr: str) -> grafana.DashboardLink:
    """A data link that opens Grafana Explore on `expr` over the dashboard's time range.

    Same URL shape as the Alertmanager sink's `generatorURL` (schemaVersion 1, one pane). Grafana
    replaces `${…}` before following the link, percent-encoding each value, so the placeholders
    stay literal here and everything around them is encoded once.
    """
    pane = {
        "datasource": "${DS_LOKI}",
        "queries": [
            {"refId": "A", "expr": expr, "queryType": "range", "datasource": {"type": "loki", "uid": "${DS_LOKI}"}}
        ],
        "range": {"from": "${__from}", "to": "${__to}"},
    }
    encoded = quote(json.dumps({"siem": pane}, separators=(",", ":")), safe="")
    url = "/explore?schemaVersion=1&panes=" + _PLACEHOLDER.sub(lambda m: "${" + m.group(1) + "}", encoded)
    return grafana.DashboardLink(title).url(url).target_blank(True)


_PLACEHOLDER = re.compile(r"%24%7B([A-Za-z0-9_.]+)%7D")  # an encoded `${name}`, decoded back for Grafana
