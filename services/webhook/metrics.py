"""The webhook receiver's own metrics: every answer by outcome, every refusal by its reason code.

Labels stay bounded: `provider` is a registry key and `reason` one of the codes the
receiver itself defines, never a header value.
"""

from __future__ import annotations

from prometheus_client import Counter

DELIVERIES = Counter(
    "siem_webhook_deliveries_total",
    "Webhook deliveries answered, by provider and outcome (accepted, duplicate, refused).",
    ["provider", "outcome"],
)
REFUSALS = Counter(
    "siem_webhook_refusals_total",
    "Webhook deliveries refused, by provider and reason code (signature_mismatch, body_too_large, …).",
    ["provider", "reason"],
)
