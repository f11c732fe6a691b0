"""The Prometheus metrics every stage reports, named `siem_<name>[_<unit>]_total` with bounded labels.

Module-level on purpose: prometheus-client's registry is process-wide, and in embedded mode
all stages share one process and one `/metrics`.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

EVENTS_RECEIVED = Counter("siem_events_received_total", "Events accepted at ingest.", ["source"])
BYTES_RECEIVED = Counter("siem_received_bytes_total", "Request body bytes read at ingest.", ["source"])
ERRORS = Counter(
    "siem_errors_total", "Input or processing errors, by stage and bounded error type.", ["stage", "error_type"]
)
DEAD_LETTERS = Counter("siem_dead_letters_total", "Messages written to the dead-letter topic.", ["stage", "error_type"])
MESSAGES_CONSUMED = Counter("siem_messages_consumed_total", "Messages taken from the bus.", ["stage", "topic"])
MESSAGES_PRODUCED = Counter("siem_messages_produced_total", "Messages acknowledged by the bus.", ["topic"])
ALERTS = Counter("siem_alerts_total", "Alerts raised by the correlator.", ["level"])
SINK_SENT = Counter("siem_sink_sent_total", "Alerts or events a sink delivered.", ["sink"])
SINK_RETRIES = Counter("siem_sink_retries_total", "Deliveries retried after a retriable failure.", ["sink"])
BATCH_SECONDS = Histogram(
    "siem_batch_duration_seconds",
    "Time to process one batch, from taking it off the bus to committing it.",
    ["stage"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
