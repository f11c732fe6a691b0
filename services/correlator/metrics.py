"""The correlator's own metrics: per rule (bounded by the rule set), reloads, windows and late hits."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

RULE_EVALUATIONS = Counter("siem_rule_evaluations_total", "Times a rule was tried on an event.", ["rule_id"])
RULE_MATCHES = Counter("siem_rule_matches_total", "Times a rule matched.", ["rule_id"])
RULE_SECONDS = Counter(
    "siem_rule_evaluation_seconds_total", "Time spent evaluating a rule (estimated from 1 event in 16).", ["rule_id"]
)
RULE_FAILURES = Counter("siem_rule_failures_total", "Evaluations that raised; the rule is skipped.", ["rule_id"])
RELOADS = Counter("siem_rules_reloads_total", "Rule set reloads, by outcome.", ["outcome"])
RULES_LOADED = Gauge("siem_rules_loaded", "Rules in the running rule set.", ["kind"])
RULES_REFUSED = Gauge("siem_rules_refused", "Rules refused at the last load.")
LATE_HITS = Counter("siem_late_hits_total", "Hits older than the watermark, sent to the dead-letter topic.")
OPEN_WINDOWS = Gauge("siem_correlation_windows", "Correlation groups with a live window.")
HITS_WITHOUT_GROUP = Counter(
    "siem_hits_without_group_total", "Matches left out of a correlation: a group-by field was missing.", ["rule_id"]
)
SUPPRESSED = Counter("siem_alerts_suppressed_total", "Alerts held back by suppression.", ["rule_id"])
