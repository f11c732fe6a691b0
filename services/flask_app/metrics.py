"""The app's Prometheus metrics, right under several gunicorn workers (prometheus-client's multiprocess mode).

With `PROMETHEUS_MULTIPROC_DIR` set (gunicorn.conf.py sets it before any worker starts), every
worker writes its samples to files there and `/metrics` adds up all workers' files; without it
(the test client, `flask run`), the process's own registry is served.
"""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

REQUESTS = Counter(
    "flask_requests_total", "HTTP requests answered, by method, route and status.", ["method", "endpoint", "status"]
)
REQUEST_SECONDS = Histogram(
    "flask_request_duration_seconds",
    "Time from the request reaching the app to its response, by method and route.",
    ["method", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ERRORS = Counter("flask_errors_total", "Requests refused, by bounded error type.", ["error_type"])

UNMATCHED_ENDPOINT = "unmatched"  # any path no route knows: one label value, however many paths are probed


def exposition() -> tuple[bytes, str]:
    """The text exposition of every worker's metrics, and its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
