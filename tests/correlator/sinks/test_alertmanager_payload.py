"""Golden tests of the Alertmanager payload builder: exact labels, annotations, startsAt and generatorURL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

from services.correlator.sinks.alertmanager import AlertLinks, build_alertmanager_alerts
from services.shared.alert import Alert, RuleRef, Technique

RULE = RuleRef(
    id="5d0b3f2e-1c2a-4d7e-9a6b-3f1e2d4c5b6a",
    title="SSH brute force",
    level="high",
    tags=["attack.t1110", "attack.credential_access"],
    description="Many failed SSH logins from one address.",
)
FIRST = datetime(2024, 5, 1, 12, 0, 5, tzinfo=UTC)


def _alert(**changes: Any) -> Alert:
    fields: dict[str, Any] = {
        "id": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
        "rule": RULE,
        "group": {"source.ip": "203.0.113.7", "user.name": "root"},
        "count": 12,
        "first_seen": FIRST,
        "last_seen": FIRST + timedelta(minutes=2),
        "event_ids": ["e1", "e2", "e3"],
        "hunt": '{module="system"} | json | id=~"e1|e2|e3"',
    }
    fields.update(changes)
    return Alert(**fields)


def test_full_alert_payload() -> None:
    """A correlation alert becomes exactly the documented postableAlert."""
    assert build_alertmanager_alerts([_alert()]) == [
        {
            "labels": {
                "alertname": "SSH brute force",
                "rule_id": "5d0b3f2e-1c2a-4d7e-9a6b-3f1e2d4c5b6a",
                "severity": "high",
                "source_ip": "203.0.113.7",
                "user_name": "root",
            },
            "annotations": {
                "summary": "SSH brute force (source.ip=203.0.113.7, user.name=root)",
                "description": "Many failed SSH logins from one address.",
                "alert_id": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
                "count": "12",
                "event_ids": "e1,e2,e3",
                "hunt": '{module="system"} | json | id=~"e1|e2|e3"',
                "tags": "attack.t1110,attack.credential_access",
            },
            "startsAt": "2024-05-01T12:00:05Z",
        }
    ]


def test_enriched_alert_payload() -> None:
    """An enriched alert adds its severity label, ATT&CK names, risk score, runbook and Explore link."""
    alert = _alert(
        severity="critical",
        risk_score=73,
        attack=[
            Technique(id="T1110", name="Brute Force", tactics=["Credential Access"]),
            Technique(id="T1078", name="Valid Accounts", tactics=["Persistence", "Credential Access"]),
        ],
    )
    links = AlertLinks("https://grafana.example/", "loki-uid", "https://wiki.example/runbooks/{rule_id}")
    (payload,) = build_alertmanager_alerts([alert], links)
    assert payload["labels"]["severity"] == "critical"
    assert {
        k: payload["annotations"][k] for k in ("runbook_url", "attack_techniques", "attack_tactics", "risk_score")
    } == {
        "runbook_url": "https://wiki.example/runbooks/5d0b3f2e-1c2a-4d7e-9a6b-3f1e2d4c5b6a",
        "attack_techniques": "T1110 Brute Force, T1078 Valid Accounts",
        "attack_tactics": "Credential Access, Persistence",
        "risk_score": "73",
    }
    assert payload["generatorURL"].startswith("https://grafana.example/explore?schemaVersion=1&panes=")


def test_generator_url_opens_explore_on_the_hunt_over_the_alert_span() -> None:
    """generatorURL is Grafana Explore with the hunt LogQL on the Loki data source, first_seen-5m to last_seen+5m."""
    (payload,) = build_alertmanager_alerts([_alert()], AlertLinks("https://grafana.example", "loki-uid"))
    url = urlsplit(payload["generatorURL"])
    assert (url.scheme, url.netloc, url.path) == ("https", "grafana.example", "/explore")
    query = parse_qs(url.query)
    assert query["schemaVersion"] == ["1"]
    assert json.loads(query["panes"][0]) == {
        "siem": {
            "datasource": "loki-uid",
            "queries": [
                {
                    "refId": "A",
                    "expr": '{module="system"} | json | id=~"e1|e2|e3"',
                    "queryType": "range",
                    "datasource": {"type": "loki", "uid": "loki-uid"},
                }
            ],
            "range": {"from": "1714564505000", "to": "1714565225000"},
        }
    }


def test_without_grafana_there_is_no_generator_url() -> None:
    """With SIEM_GRAFANA_URL unset the alert carries no generatorURL (Alertmanager wants a valid URL or none)."""
    (payload,) = build_alertmanager_alerts([_alert()])
    assert "generatorURL" not in payload


def test_minimal_alert_payload() -> None:
    """Without group, description or tags: no extra labels, the title as description, empty annotations left out."""
    rule = RuleRef(id="r-1", title="Secret read", level="medium")
    alert = _alert(rule=rule, group={}, count=1, event_ids=["only"], hunt="h")
    assert build_alertmanager_alerts([alert]) == [
        {
            "labels": {"alertname": "Secret read", "rule_id": "r-1", "severity": "medium"},
            "annotations": {
                "summary": "Secret read",
                "description": "Secret read",
                "alert_id": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
                "count": "1",
                "event_ids": "only",
                "hunt": "h",
            },
            "startsAt": "2024-05-01T12:00:05Z",
        }
    ]


def test_group_names_and_values_are_sanitised() -> None:
    """Group names become valid label names (odd characters to _, no leading digit); values become strings."""
    group = {"objectRef.resource": "secrets", "http-status": 403, "1st": True, "gone": None}
    (payload,) = build_alertmanager_alerts([_alert(group=group)])
    assert {k: v for k, v in payload["labels"].items() if k not in {"alertname", "rule_id", "severity"}} == {
        "objectRef_resource": "secrets",
        "http_status": "403",
        "_1st": "True",
        "gone": "",
    }


def test_only_the_first_ten_event_ids_are_listed() -> None:
    """A large alert lists ten event ids; the count still says how many there were."""
    ids = [f"e{i}" for i in range(25)]
    (payload,) = build_alertmanager_alerts([_alert(event_ids=ids, count=25)])
    assert payload["annotations"]["event_ids"] == ",".join(ids[:10])
    assert payload["annotations"]["count"] == "25"


def test_fractional_seconds_are_kept_in_rfc3339() -> None:
    """startsAt keeps microseconds and ends in Z."""
    (payload,) = build_alertmanager_alerts([_alert(first_seen=FIRST.replace(microsecond=250000))])
    assert payload["startsAt"] == "2024-05-01T12:00:05.250000Z"


def test_starts_at_is_utc_whatever_the_alert_offset() -> None:
    """An alert time given with a +02:00 offset is sent as the same instant in UTC, with Z."""
    plus_two = FIRST.astimezone(timezone(timedelta(hours=2)))
    (payload,) = build_alertmanager_alerts([_alert(first_seen=plus_two)])
    assert payload["startsAt"] == "2024-05-01T12:00:05Z"


def test_group_fields_cannot_overwrite_the_core_labels() -> None:
    """A group-by field called `severity` (syslog severity) does not replace the rule's severity label."""
    (payload,) = build_alertmanager_alerts([_alert(group={"severity": "3", "alertname": "x"})])
    assert payload["labels"]["severity"] == "high"
    assert payload["labels"]["alertname"] == "SSH brute force"


def test_one_payload_per_alert_in_order() -> None:
    """A batch of alerts gives one postable alert each, in the same order."""
    alerts = [_alert(id="first"), _alert(id="second")]
    assert [p["annotations"]["alert_id"] for p in build_alertmanager_alerts(alerts)] == ["first", "second"]
