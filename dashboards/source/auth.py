"""Authentication on Linux hosts: successes and failures by host, and where the failures come from.

Reads the `system` module (syslog, journal, auditd: sshd, sudo, su, PAM, login …) and keeps the
events whose ECS `event.category` holds `authentication`, so a sudo command or a cron session is
not counted as a login.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as grafana

from dashboards.source.panels import (
    event_logs,
    logql,
    loki_dashboard,
    series,
    top,
)

UID = "siem-auth"
# `event.category` is a JSON list: `| json` returns it as its JSON text, which the regex looks into.
AUTH = (
    '{module="system", env=~"$env"} '
    '| json outcome="event.outcome", category="event.category", host="host.name", user="user.name", '
    'source_ip="source.ip" | __error__="" | category=~`.*"authentication".*`'
)
FAILED = f'{AUTH} | outcome="failure"'


def build() -> grafana.Dashboard:
    return (
        loki_dashboard(
            UID,
            "SIEM authentication",
            "Logins and other authentications on Linux hosts: outcomes by host, failing addresses and user names.",
            '{module="system"}',
        )
        .with_row(grafana.Row("Outcomes"))
        .with_panel(
            series(
                "Authentication successes and failures",
                "Authentication events per interval by outcome (ECS event.outcome), every host together.",
                logql(
                    f'sum by (outcome) (count_over_time({AUTH} | outcome=~"success|failure" [$__auto]))',
                    legend="{{outcome}}",
                ),
                stacked=True,
                bars=True,
            )
        )
        .with_panel(
            series(
                "Failures by host",
                "Failed authentications per interval on each host (ECS host.name): a spike is a brute force.",
                logql(f'sum by (host) (count_over_time({FAILED} | host!="" [$__auto]))', legend="{{host}}"),
                stacked=True,
                bars=True,
            )
        )
        .with_panel(
            top(
                "Hosts with the most successes",
                "Successful authentications on each host over the time range.",
                logql(
                    f'topk(10, sum by (host) (count_over_time({AUTH} | outcome="success" | host!="" [$__range])))',
                    legend="{{host}}",
                    instant=True,
                ),
            )
        )
        .with_panel(
            top(
                "Hosts with the most failures",
                "Failed authentications on each host over the time range.",
                logql(
                    f'topk(10, sum by (host) (count_over_time({FAILED} | host!="" [$__range])))',
                    legend="{{host}}",
                    instant=True,
                ),
            )
        )
        .with_panel(
            top(
                "Top failing source addresses",
                "The addresses (ECS source.ip) with the most failed authentications over the time range.",
                logql(
                    f'topk(10, sum by (source_ip) (count_over_time({FAILED} | source_ip!="" [$__range])))',
                    legend="{{source_ip}}",
                    instant=True,
                ),
            )
        )
        .with_row(grafana.Row("Failures"))
        .with_panel(
            top(
                "Top failing user names",
                "The user names tried most often without success: many distinct names from one address is a spray.",
                logql(
                    f'topk(10, sum by (user) (count_over_time({FAILED} | user!="" [$__range])))',
                    legend="{{user}}",
                    instant=True,
                ),
            )
        )
        .with_panel(
            event_logs(
                "Authentication failures",
                "The failed authentications themselves, newest first, as the host logged them.",
                logql(
                    f'{FAILED} | json message="message" | line_format "{{{{.host}}}} {{{{.message}}}}"', max_lines=500
                ),
            ).span(16)
        )
    )
