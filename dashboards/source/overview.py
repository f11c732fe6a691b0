"""SIEM overview: how many alerts, how bad, about whom, and the latest ones with a link to their events.

Alerts are counted from the correlator's `siem_alerts_total` (every alert, detections and
correlations). Everything else reads Loki's events that matched a rule (`level!="none"`): the
latest-alerts table is built on them rather than on Alertmanager, because Alertmanager keeps only
active alerts in memory and Grafana has no core panel that lists an external Alertmanager's alerts,
while Loki keeps every matched event for its retention, with the fields an analyst filters on and
the id the `hunt` query selects. Correlation alerts (stage 2) are not events: they show in the
count, and in Grafana Alerting through the Alertmanager data source (the dashboard's link).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as grafana

from dashboards.source.panels import (
    dashboard,
    datasource_variable,
    event_table,
    explore_link,
    logql,
    loki_label_variable,
    promql,
    series,
    single,
    top,
)

UID = "siem-overview"
# Loki needs one matcher that cannot match an empty value: `level!="none"` alone is refused, `module=~".+"` is not.
MATCHED = '{module=~".+", level!="none", env=~"$env"}'
# The hunt query of a one-event alert (services/correlator/hunt.py): the event's module and its envelope id.
HUNT = '{module="${__data.fields.module}"} | json | id=`${__data.fields.envelope_id}`'
# Every event a rule matched, through the `rule_ids` structured metadata (docs/sinks/loki-labels.md).
RULE_EVENTS = '{module=~".+", level!="none"} | rule_ids=~`.*${__data.fields.rule_id}.*`'


def build() -> grafana.Dashboard:
    return (
        dashboard(
            UID,
            "SIEM overview",
            "Alerts by level, the rules, actors and addresses behind them, and the latest alerts with their events.",
            datasource_variable("loki", "Loki"),
            datasource_variable("prometheus", "Prometheus"),
            datasource_variable("alertmanager", "Alertmanager"),
        )
        .with_variable(loki_label_variable("env", '{module=~".+", level!="none"}', "Environment"))
        .link(
            grafana.DashboardLink("Active alerts (Alertmanager)")
            .url("/alerting/groups?alertmanager=${DS_ALERTMANAGER:text}")
            .tooltip("Grafana Alerting on the Alertmanager data source: active alerts, silences, correlation alerts")
            .target_blank(True)
        )
        .with_row(grafana.Row("Alerts"))
        .with_panel(
            single(
                "Alerts raised",
                "Alerts the correlator raised in the time range, detections and correlations alike "
                "(siem_alerts_total; suppressed alerts are not counted).",
                promql("sum(increase(siem_alerts_total[$__range]))", instant=True),
            )
        )
        .with_panel(
            single(
                "Events that matched a rule",
                "Events in Loki whose `level` label is not `none`: each matched at least one detection rule.",
                logql(f"sum(count_over_time({MATCHED}[$__range]))", instant=True),
            )
        )
        .with_panel(
            single(
                "High and critical events",
                "Matched events whose most severe rule is high or critical: the ones to look at first.",
                logql('sum(count_over_time({level=~"high|critical", env=~"$env"}[$__range]))', instant=True),
            )
        )
        .with_panel(
            single(
                "Rules loaded",
                "Detection and correlation rules in the running rule set; refused rules are on the pipeline dashboard.",
                promql("sum(siem_rules_loaded)", instant=True),
            )
        )
        .with_panel(
            series(
                "Alerts over time by level",
                "Alerts raised per minute, by the level of the rule that raised them (siem_alerts_total).",
                promql("sum by (level) (rate(siem_alerts_total[$__rate_interval])) * 60", legend="{{level}}"),
                unit="short",
                stacked=True,
            )
        )
        .with_panel(
            series(
                "Matched events by level",
                "Events that matched a rule, per interval, by the level of the most severe rule each matched.",
                logql(f"sum by (level) (count_over_time({MATCHED}[$__auto]))", legend="{{level}}"),
                stacked=True,
                bars=True,
            )
        )
        .with_row(grafana.Row("Who and what"))
        .with_panel(
            top(
                "Top rules",
                "The rules matched most often in the time range. An event that matched several rules counts "
                "under the first one listed in its `matches`.",
                logql(
                    f"topk(10, sum by (rule) (count_over_time({MATCHED} "
                    f'| json rule="matches[0].title" | __error__="" [$__range])))',
                    legend="{{rule}}",
                    instant=True,
                ),
            )
        )
        .with_panel(
            top(
                "Top actors",
                "User names (ECS user.name) on the most matched events in the time range.",
                logql(
                    f"topk(10, sum by (user) (count_over_time({MATCHED} "
                    f'| json user="user.name" | __error__="" | user!="" [$__range])))',
                    legend="{{user}}",
                    instant=True,
                ),
            )
        )
        .with_panel(
            top(
                "Top source addresses",
                "Source addresses (ECS source.ip) on the most matched events in the time range.",
                logql(
                    f"topk(10, sum by (source_ip) (count_over_time({MATCHED} "
                    f'| json source_ip="source.ip" | __error__="" | source_ip!="" [$__range])))',
                    legend="{{source_ip}}",
                    instant=True,
                ),
            )
        )
        .with_row(grafana.Row("Latest alerts"))
        .with_panel(
            event_table(
                "Latest alerts",
                "The newest events that matched a rule: each is a detection alert. Click a cell for "
                "'Events behind this alert' (the alert's hunt query in Explore) or 'All events of this rule'.",
                logql(
                    f'{MATCHED} | json rule="matches[0].title", rule_id="matches[0].id", action="event.action", '
                    'user="user.name", source_ip="source.ip", host="host.name", envelope_id="id"',
                    max_lines=200,
                ),
                {
                    "level": "Level",
                    "rule": "Rule",
                    "module": "Source",
                    "action": "Action",
                    "user": "User",
                    "source_ip": "Source address",
                    "host": "Host",
                    "envelope_id": "Event id",
                    "rule_id": "Rule id",
                },
                explore_link("Events behind this alert", HUNT),
                explore_link("All events of this rule", RULE_EVENTS),
            )
        )
    )
