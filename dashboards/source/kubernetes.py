"""Kubernetes audit: who calls the API server with which verbs, what it denied, and every exec/attach.

The API server writes one audit event per request and stage. Requests are counted once, at
`ResponseComplete`; exec and attach upgrade the connection, so they are counted at
`ResponseStarted` (allowed) or by their error status (refused, which has no ResponseStarted).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as grafana

from dashboards.source.panels import (
    event_table,
    logql,
    loki_dashboard,
    loki_label_variable,
    series,
    top,
)

UID = "siem-kubernetes"
AUDIT = (
    '{module="kubernetes", env=~"$env", cluster=~"$cluster"} '
    '| json verb="event.action", user="user.name", stage="raw.stage", code="http.response.status_code", '
    'resource="orchestrator.resource.type", subresource="orchestrator.resource.subresource", '
    'namespace="orchestrator.namespace", name="orchestrator.resource.name", source_ip="source.ip", '
    'decision="raw.annotations[\\"authorization.k8s.io/decision\\"]", '
    'reason="raw.annotations[\\"authorization.k8s.io/reason\\"]" | __error__=""'
)
COMPLETE = f'{AUDIT} | stage="ResponseComplete"'
DENIED = f'{COMPLETE} | code=~"401|403" or decision="forbid"'
EXEC = f'{AUDIT} | subresource=~"exec|attach" | stage="ResponseStarted" or code=~"[45].."'


def build() -> grafana.Dashboard:
    return (
        loki_dashboard(
            UID,
            "SIEM Kubernetes audit",
            "API server audit events: verbs, users, denied requests, and every exec or attach into a pod.",
            '{module="kubernetes"}',
        )
        .with_variable(loki_label_variable("cluster", '{module="kubernetes"}', "Cluster"))
        .with_row(grafana.Row("Activity"))
        .with_panel(
            series(
                "Requests by verb",
                "Completed API requests per interval by verb (get, list, watch, create, patch, delete …).",
                logql(f"sum by (verb) (count_over_time({COMPLETE} [$__auto]))", legend="{{verb}}"),
                stacked=True,
                bars=True,
            )
        )
        .with_panel(
            top(
                "Top users",
                "The identities (users and service accounts) with the most completed requests over the time range.",
                logql(
                    f'topk(15, sum by (user) (count_over_time({COMPLETE} | user!="" [$__range])))',
                    legend="{{user}}",
                    instant=True,
                ),
            ).span(12)
        )
        .with_panel(
            top(
                "Top resources",
                "The resource types requested most over the time range (pods, secrets, configmaps …).",
                logql(
                    f'topk(15, sum by (resource) (count_over_time({COMPLETE} | resource!="" [$__range])))',
                    legend="{{resource}}",
                    instant=True,
                ),
            ).span(12)
        )
        .with_row(grafana.Row("Denied requests"))
        .with_panel(
            series(
                "Denied requests by user",
                "Requests the API server refused (401, 403, or an authorizer's `forbid`) per interval, by identity: "
                "probing for permissions shows here first.",
                logql(f"sum by (user) (count_over_time({DENIED} [$__auto]))", legend="{{user}}"),
                stacked=True,
                bars=True,
            )
        )
        .with_panel(
            top(
                "Most denied verbs and resources",
                "What was refused most over the time range, as verb and resource.",
                logql(
                    f"topk(15, sum by (verb, resource) (count_over_time({DENIED} [$__range])))",
                    legend="{{verb}} {{resource}}",
                    instant=True,
                ),
            ).span(12)
        )
        .with_panel(
            event_table(
                "Denied requests",
                "Every refused request, newest first: who, what, where, and the authorizer's reason.",
                logql(DENIED, max_lines=500),
                {
                    "user": "User",
                    "verb": "Verb",
                    "resource": "Resource",
                    "namespace": "Namespace",
                    "name": "Name",
                    "code": "Status",
                    "reason": "Reason",
                    "source_ip": "Source address",
                },
            )
        )
        .with_row(grafana.Row("Exec and attach"))
        .with_panel(
            series(
                "Exec and attach by user",
                "Sessions into pods per interval (pods/exec, pods/attach), allowed or refused, by identity.",
                logql(
                    f"sum by (user, subresource) (count_over_time({EXEC} [$__auto]))", legend="{{user}} {{subresource}}"
                ),
                stacked=True,
                bars=True,
            ).span(24)
        )
        .with_panel(
            event_table(
                "Exec and attach sessions",
                "Every exec or attach, newest first: the pod, who opened the session, from where, and the answer "
                "(101 = session opened).",
                logql(EXEC, max_lines=500),
                {
                    "user": "User",
                    "subresource": "Kind",
                    "namespace": "Namespace",
                    "name": "Pod",
                    "code": "Status",
                    "source_ip": "Source address",
                },
            )
        )
    )
