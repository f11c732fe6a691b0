"""Pipeline health from the services' own Prometheus metrics: throughput, backlog, errors, sinks, rules.

No service exports Kafka consumer lag, so the backlog row shows what the counters allow: per
topic, messages produced minus messages consumed per second (above zero, a backlog is growing)
and how long each stage takes per batch.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as grafana

from dashboards.source.panels import dashboard, datasource_variable, promql, series, single, top

UID = "siem-pipeline"
RATE = "[$__rate_interval]"


def _rate(metric: str, by: str, selector: str = "") -> str:
    return f"sum by ({by}) (rate({metric}{selector}{RATE}))"


def _p95(histogram: str, by: str) -> str:
    return f"histogram_quantile(0.95, sum by (le, {by}) (rate({histogram}_bucket{RATE})))"


def build() -> grafana.Dashboard:
    return (
        dashboard(
            UID,
            "SIEM pipeline health",
            "Events per second at every stage, backlog, dead letters, sink errors and retries, rule evaluation cost.",
            datasource_variable("prometheus", "Prometheus"),
        )
        .with_row(grafana.Row("Throughput"))
        .with_panel(
            series(
                "Events received by source",
                "Events per second accepted at ingest and by the webhook receiver, by source.",
                promql(_rate("siem_events_received_total", "source"), legend="{{source}}"),
                unit="ops",
            )
        )
        .with_panel(
            series(
                "Messages consumed by stage",
                "Messages per second each stage takes off the bus (correlator, correlation, alert_delivery, "
                "event_delivery, dlq_file).",
                promql(_rate("siem_messages_consumed_total", "stage"), legend="{{stage}}"),
                unit="ops",
            )
        )
        .with_panel(
            series(
                "Messages produced by topic",
                "Messages per second acknowledged by the bus, by topic (siem.events, siem.hits, siem.enriched, "
                "siem.alerts).",
                promql(_rate("siem_messages_produced_total", "topic"), legend="{{topic}}"),
                unit="ops",
            )
        )
        .with_panel(
            series(
                "Delivered by sink",
                "Alerts and events per second each sink delivered (alertmanager, loki, jsonl, console).",
                promql(_rate("siem_sink_sent_total", "sink"), legend="{{sink}}"),
                unit="ops",
            )
        )
        .with_row(grafana.Row("Backlog"))
        .with_panel(
            series(
                "Backlog growth by topic",
                "Messages produced minus messages consumed per second, by topic: above zero, consumers fall "
                "behind. An estimate from the services' counters; no service exports Kafka consumer lag.",
                promql(
                    f"{_rate('siem_messages_produced_total', 'topic')} - on (topic) "
                    f"{_rate('siem_messages_consumed_total', 'topic')}",
                    legend="{{topic}}",
                ),
                unit="ops",
            )
        )
        .with_panel(
            series(
                "Batch duration p95 by stage",
                "95th percentile of the time a stage takes for one batch, from taking it off the bus to the "
                "commit; a sink that retries shows here.",
                promql(_p95("siem_batch_duration_seconds", "stage"), legend="{{stage}}"),
                unit="s",
            )
        )
        .with_row(grafana.Row("Errors and dead letters"))
        .with_panel(
            series(
                "Dead letters by stage and type",
                "Messages per second sent to siem.dlq, by the stage that gave up and why: nothing is dropped, "
                "but each needs a look.",
                promql(_rate("siem_dead_letters_total", "stage, error_type"), legend="{{stage}} {{error_type}}"),
                unit="ops",
            )
        )
        .with_panel(
            series(
                "Errors by stage and type",
                "Input and processing errors per second, by stage and bounded error type (siem_errors_total).",
                promql(_rate("siem_errors_total", "stage, error_type"), legend="{{stage}} {{error_type}}"),
                unit="ops",
            )
        )
        .with_panel(
            series(
                "Ingest rejections",
                "Requests refused and items dead-lettered at ingest per second, by source and reason, and "
                "syslog datagrams discarded while the bus was full.",
                promql(_rate("siem_ingest_rejected_total", "source, error_type"), legend="{{source}} {{error_type}}"),
                promql(_rate("siem_ingest_discarded_total", "source, reason"), legend="discarded {{reason}}", ref="B"),
                unit="ops",
            )
        )
        .with_panel(
            series(
                "Webhook deliveries",
                "Webhook deliveries per second by provider and outcome (accepted, duplicate, refused), and "
                "refusals by reason: signature mismatches are forgeries or a wrong secret.",
                promql(_rate("siem_webhook_deliveries_total", "provider, outcome"), legend="{{provider}} {{outcome}}"),
                promql(_rate("siem_webhook_refusals_total", "provider, reason"), legend="refused {{reason}}", ref="B"),
                unit="ops",
            )
        )
        .with_row(grafana.Row("Sinks"))
        .with_panel(
            series(
                "Sink retries",
                "Deliveries retried per second after a retriable failure (peer down, 5xx, 429), by sink; "
                "offsets wait meanwhile.",
                promql(_rate("siem_sink_retries_total", "sink"), legend="{{sink}}"),
                unit="ops",
            )
        )
        .with_panel(
            series(
                "Sink errors",
                "Failed sends per second in the delivery stages (`<sink>_failed`, `<sink>_refused`, "
                "`alertmanager_peer_failed`).",
                promql(
                    _rate("siem_errors_total", "stage, error_type", '{stage=~"alert_delivery|event_delivery"}'),
                    legend="{{stage}} {{error_type}}",
                ),
                unit="ops",
            )
        )
        .with_row(grafana.Row("Rules"))
        .with_panel(
            series(
                "Rule evaluation time",
                "Seconds spent evaluating rules per second of wall time (1 = one core busy), and the mean time "
                "per evaluation.",
                promql("sum(rate(siem_rule_evaluation_seconds_total[$__rate_interval]))", legend="all rules"),
                promql(
                    "sum(rate(siem_rule_evaluation_seconds_total[$__rate_interval])) "
                    "/ sum(rate(siem_rule_evaluations_total[$__rate_interval]))",
                    legend="per evaluation",
                    ref="B",
                ),
                unit="s",
            )
        )
        .with_panel(
            top(
                "Costliest rules",
                "The rules that took the most evaluation time over the time range, by rule id.",
                promql(
                    "topk(10, sum by (rule_id) (increase(siem_rule_evaluation_seconds_total[$__range])))",
                    legend="{{rule_id}}",
                    instant=True,
                ),
                unit="s",
            ).span(12)
        )
        .with_panel(
            top(
                "Failing rules",
                "Rules whose evaluation raised (the rule is skipped for that event) over the time range.",
                promql(
                    "topk(10, sum by (rule_id) (increase(siem_rule_failures_total[$__range])))",
                    legend="{{rule_id}}",
                    instant=True,
                ),
            ).span(12)
        )
        .with_panel(
            single(
                "Rules refused",
                "Rules refused at the last load (see the correlator's log for file, line and reason).",
                promql("max(siem_rules_refused)", instant=True),
            )
        )
        .with_panel(
            single(
                "Correlation windows",
                "Correlation groups with a live window across correlator instances.",
                promql("sum(siem_correlation_windows)", instant=True),
            )
        )
        .with_panel(
            single(
                "Late hits",
                "Hits older than the watermark in the time range, sent to siem.dlq.",
                promql("sum(increase(siem_late_hits_total[$__range]))", instant=True),
            )
        )
        .with_panel(
            single(
                "Rule reloads with errors",
                "Rule reloads in the time range that failed (the previous rules kept running) or refused some "
                "files (the others loaded).",
                promql('sum(increase(siem_rules_reloads_total{outcome=~"failed|partial"}[$__range]))', instant=True),
            )
        )
    )
