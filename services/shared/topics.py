"""Topic names: the contract between stages (DESIGN.md, data path)."""

EVENTS = "siem.events"
HITS = "siem.hits"
ENRICHED = "siem.enriched"
ALERTS = "siem.alerts"
DLQ = "siem.dlq"

ALL = (EVENTS, HITS, ENRICHED, ALERTS, DLQ)
