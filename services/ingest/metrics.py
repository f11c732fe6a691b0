"""Ingest's own metrics, per source (`generic`, `k8s_audit`, `jenkins`, `loki`, `syslog`).

Events received and bytes are the shared `siem_events_received_total` / `siem_received_bytes_total`;
errors are also counted in the shared `siem_errors_total{stage="ingest"}`.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REJECTED = Counter(
    "siem_ingest_rejected_total",
    "Requests refused and items dead-lettered at ingest, by source and bounded error type.",
    ["source", "error_type"],
)
PARSE_SECONDS = Histogram(
    "siem_ingest_parse_duration_seconds",
    "Time to parse one request body or syslog batch into events.",
    ["source"],
    buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
DISCARDED = Counter(
    "siem_ingest_discarded_total",
    "Syslog UDP datagrams discarded because the bus stayed busy (UDP cannot push back).",
    ["source", "reason"],
)
SYSLOG_CONNECTIONS = Gauge("siem_ingest_syslog_connections", "Open syslog TCP connections.")
