"""The SSH brute-force pair of rules several correlator tests run: failures, and a count of them per source."""

from __future__ import annotations

import uuid

_RULES = """\
title: SSH login failure
id: {failure_id}
name: ssh_failure
logsource: {{product: linux, service: sshd}}
detection:
  selection: {{event.outcome: failure}}
  condition: selection
level: low
---
title: SSH brute force from one address
id: {correlation_id}
correlation:
  type: event_count
  rules: [ssh_failure]
  group-by: [source.ip]
  timespan: 10m
  condition: {{gte: {threshold}}}
level: high
"""


def ssh_brute_force_rules(correlation_id: str, threshold: int) -> str:
    """The rule file: an alert once one source.ip has `threshold` SSH login failures within 10 minutes."""
    return _RULES.format(failure_id=uuid.uuid4(), correlation_id=correlation_id, threshold=threshold)
