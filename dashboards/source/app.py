"""The sample Flask application the SIEM watches: requests, latency and errors from its own Prometheus metrics.

`endpoint` is the route's rule (`/api/notes/<int:note_id>`), or `unmatched` for any path no route
knows, so probing for paths shows as one series however many paths are tried.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as grafana

from dashboards.source.panels import dashboard, datasource_variable, promql, series, single

UID = "siem-flask-app"
RATE = "[$__rate_interval]"
REQUESTS = f"sum(rate(flask_requests_total{RATE}))"
SERVER_ERRORS = f'sum(rate(flask_requests_total{{status=~"5.."}}{RATE}))'


def _latency(quantile: float, by: str = "") -> str:
    group = f"le, {by}" if by else "le"
    return f"histogram_quantile({quantile}, sum by ({group}) (rate(flask_request_duration_seconds_bucket{RATE})))"


def build() -> grafana.Dashboard:
    return (
        dashboard(
            UID,
            "Sample app (Flask)",
            "The sample application's traffic, p95 latency and errors, from its /metrics (all gunicorn workers).",
            datasource_variable("prometheus", "Prometheus"),
        )
        .with_row(grafana.Row("Overview"))
        .with_panel(
            single("Requests per second", "Requests answered per second, every route.", promql(REQUESTS), unit="reqps")
        )
        .with_panel(
            single(
                "Latency p95",
                "95th percentile of the time from a request reaching the app to its response, every route.",
                promql(_latency(0.95)),
                unit="s",
            )
        )
        .with_panel(
            single(
                "5xx ratio",
                "Share of requests answered with a 5xx status: the app's own failures.",
                promql(f"{SERVER_ERRORS} / {REQUESTS}"),
                unit="percentunit",
            )
        )
        .with_panel(
            single(
                "Unmatched paths per second",
                "Requests for paths no route knows: a burst is someone scanning for paths.",
                promql(f'sum(rate(flask_requests_total{{endpoint="unmatched"}}{RATE}))'),
                unit="reqps",
            )
        )
        .with_row(grafana.Row("Requests"))
        .with_panel(
            series(
                "Requests by route",
                "Requests per second by route (Flask's URL rule) and method.",
                promql(
                    f"sum by (endpoint, method) (rate(flask_requests_total{RATE}))", legend="{{method}} {{endpoint}}"
                ),
                unit="reqps",
            )
        )
        .with_panel(
            series(
                "Requests by status",
                "Requests per second by HTTP status: 401s in bursts are guessed tokens, 404s scanning, 5xx failures.",
                promql(f"sum by (status) (rate(flask_requests_total{RATE}))", legend="{{status}}"),
                unit="reqps",
                stacked=True,
            )
        )
        .with_row(grafana.Row("Latency and errors"))
        .with_panel(
            series(
                "Latency p95 by route",
                "95th percentile response time per route, and the median over every route for comparison.",
                promql(_latency(0.95, "endpoint"), legend="p95 {{endpoint}}"),
                promql(_latency(0.5), legend="p50 all routes", ref="B"),
                unit="s",
            )
        )
        .with_panel(
            series(
                "Errors by type",
                "Requests refused per second by the app's bounded error type (unauthorized, invalid_body, "
                "invalid_query, internal_error …).",
                promql(f"sum by (error_type) (rate(flask_errors_total{RATE}))", legend="{{error_type}}"),
                unit="ops",
                stacked=True,
            )
        )
    )
