"""Events for the dashboards to show: the corpus's real logs and payloads through the services' own parsers,
matched by SigmaHQ's rules through the real detection engine, as the Loki sink would store them.

Event times are moved into the last hour (Loki refuses entries older than a week), keeping their
order. Two kinds of event have no real sample in the corpus and are derived, and marked so: a
force push (the corpus's push payload with `forced: true`) and Jenkins audit events (the hook's
documented shape, docs/ingest/jenkins.md). None of SigmaHQ's rules that match these events is
high or critical, so one test rule of ours (exec/attach into a pod, level high) is added.
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from services.correlator.engine import DetectionEngine
from services.correlator.ruleset import RuleSet
from services.ingest.sources.jenkins import parse_jenkins
from services.ingest.sources.k8s_audit import parse_audit
from services.ingest.syslog.line import LineContext, syslog_event
from services.shared.envelope import Envelope
from services.shared.event import EnrichedEvent, Event
from services.webhook.envelope import build_event
from services.webhook.providers.base import Delivery
from services.webhook.providers.github import GitHubProvider

ENV = "prod"
CLUSTER = "lab"
SSH_LINES = 400  # of loghub's 2,000: enough failures and successes by host and address
SPREAD = timedelta(minutes=50)
HIGH_RULE = """\
title: Interactive session into a pod (dashboard test rule)
id: 4b8f2a51-7c3e-4d0a-9f6b-2e1d5c7a9b30
status: test
description: Someone opened exec or attach into a pod. Used by the dashboard tests only.
level: high
tags: [attack.execution, attack.t1609]
logsource: {product: kubernetes, service: audit}
detection:
  selection:
    verb: create
    objectRef.resource: pods
    objectRef.subresource: [exec, attach]
  condition: selection
"""


def corpus_events(corpus: Path, now: datetime) -> list[EnrichedEvent]:
    """Every source the dashboards read, in event order, within the last hour, with the rules each matched."""
    events = [*_linux(corpus), *_kubernetes(corpus), *_github(corpus), *_jenkins(corpus)]
    sigma = corpus / "sigma"
    with tempfile.TemporaryDirectory(prefix="dashboard-rules-") as ours:
        (Path(ours) / "pod_session.yml").write_text(HIGH_RULE)
        rules = RuleSet.load(
            [
                sigma / "rules/application/kubernetes",
                sigma / "rules/linux",
                sigma / "rules-emerging-threats",
                Path(ours),
            ]
        )
    assert not rules.errors, rules.errors
    engine = DetectionEngine(rules)
    start, step = now - SPREAD, SPREAD / len(events)
    enriched = []
    for position, event in enumerate(events):
        moved = event.model_copy(update={"time": start + step * position, "labels": {**event.labels, "env": ENV}})
        enriched.append(EnrichedEvent(**moved.__dict__, matches=engine.evaluate(Envelope.of(moved)).matches))
    return enriched


def _linux(corpus: Path) -> list[Event]:
    received = datetime.now(UTC)
    lines = (corpus / "linux/loghub/OpenSSH/OpenSSH_2k.log").read_text().splitlines()[:SSH_LINES]
    lines += (corpus / "linux/auth/beats/test.log").read_text().splitlines()
    return [syslog_event(line, LineContext(received=received)) for line in lines if line.strip()]


def _kubernetes(corpus: Path) -> list[Event]:
    received = datetime.now(UTC)
    files = sorted((corpus / "k8s-audit/falco-trace-files").glob("*.json"))
    files.append(corpus / "k8s-audit/audit2rbac/demo.log")
    events = [event for path in files for event in parse_audit(path.read_bytes(), received).read_back()]
    return [e.model_copy(update={"labels": {"cluster": CLUSTER}}) for e in events]


def _github(corpus: Path) -> list[Event]:
    received = datetime.now(UTC)
    provider = GitHubProvider()
    events = []
    for number, path in enumerate(sorted((corpus / "github").glob("*.json"))):
        name = path.name.split(".", 1)[0]
        payload = json.loads(path.read_text())
        delivery = Delivery(event=name, delivery_id=f"corpus-{number}", host="github")
        events.append(build_event("github", delivery, payload, provider.normalise(name, payload), received))
    # Derived: the corpus has no force push; this is its push payload as GitHub sends a forced one.
    forced: dict[str, Any] = {**json.loads((corpus / "github/push.payload.json").read_text()), "forced": True}
    delivery = Delivery(event="push", delivery_id="derived-forced-push", host="github")
    events.append(build_event("github", delivery, forced, provider.normalise("push", forced), received))
    return events


def _jenkins(corpus: Path) -> list[Event]:
    received = datetime.now(UTC)
    bodies = [json.loads(p.read_text())["body"] for p in sorted((corpus / "jenkins/gitter-services").glob("*.json"))]
    # Derived: the audit hook's documented shape (the corpus holds Notification plugin payloads only).
    bodies += [
        {"kind": "audit", "action": action, "user": "mallory", "source_ip": "198.51.100.23", "target": "/manage"}
        | {"id": f"derived-{n}"}
        for n, action in enumerate(["login_failure", "login_failure", "login", "script_console"])
    ]
    body = "\n".join(json.dumps(b) for b in bodies).encode()
    return parse_jenkins(body, received).read_back()
