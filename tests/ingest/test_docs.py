"""The documented sender configurations match what ingest serves (paths, ports, audit actions, policy levels)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import yaml

from services.ingest.app import ROUTES
from services.ingest.settings import IngestSettings
from services.ingest.sources.jenkins import _AUDIT_ACTIONS
from tests.infra import ROOT

DOCS = ROOT / "docs" / "ingest"
PATHS = {route.source: route.path for route in ROUTES}


def test_webhook_kubeconfig_points_at_the_audit_endpoint() -> None:
    """The API server's webhook kubeconfig is a kubeconfig whose server URL is ingest's audit path, over HTTPS."""
    config = yaml.safe_load((DOCS / "kubernetes/webhook-kubeconfig.yaml").read_text())
    assert (config["apiVersion"], config["kind"]) == ("v1", "Config")
    (cluster,) = config["clusters"]
    server = urlsplit(cluster["cluster"]["server"])
    assert (server.scheme, server.path) == ("https", PATHS["k8s_audit"])
    context = next(c["context"] for c in config["contexts"] if c["name"] == config["current-context"])
    assert context["cluster"] == cluster["name"] and context["user"] in {u["name"] for u in config["users"]}


def test_audit_policy_never_records_secret_contents() -> None:
    """The audit policy is a valid audit.k8s.io/v1 Policy, and any rule naming secrets logs metadata at most."""
    policy = yaml.safe_load((DOCS / "kubernetes/audit-policy.yaml").read_text())
    assert (policy["apiVersion"], policy["kind"]) == ("audit.k8s.io/v1", "Policy")
    assert all(rule["level"] in {"None", "Metadata", "Request", "RequestResponse"} for rule in policy["rules"])
    for rule in policy["rules"]:
        names = {r for group in rule.get("resources", []) for r in group.get("resources", [])}
        if names & {"secrets", "configmaps", "serviceaccounts/token"}:
            assert rule["level"] in {"None", "Metadata"}
    assert policy["rules"][-1] == {"level": "Metadata"}  # nothing falls through unrecorded


def test_jenkins_hook_sends_only_actions_ingest_accepts() -> None:
    """Every action the Groovy hook sends is one the jenkins source accepts, and all accepted ones are sent."""
    script = (DOCS / "jenkins/siem-audit.groovy").read_text()
    sent = set(re.findall(r'SiemAudit\.send\("([a-z_]+)"', script))
    assert sent == set(_AUDIT_ACTIONS)
    assert PATHS["jenkins"] in script and 'kind: "audit"' in script


def test_agents_point_at_the_loki_push_path_and_syslog_port() -> None:
    """Alloy, Promtail and Fluent Bit configs post to ingest's Loki path; rsyslog forwards to its syslog port."""
    alloy = (DOCS / "agents/config.alloy").read_text()
    assert urlsplit(re.search(r'url\s*=\s*"([^"]+)"', alloy).group(1)).path == PATHS["loki"]  # type: ignore[union-attr]
    promtail = yaml.safe_load((DOCS / "agents/promtail.yaml").read_text())
    assert urlsplit(promtail["clients"][0]["url"]).path == PATHS["loki"]
    fluent_bit = (DOCS / "agents/fluent-bit.conf").read_text()
    assert re.search(r"^\s*uri\s+(\S+)$", fluent_bit, re.M).group(1) == PATHS["loki"]  # type: ignore[union-attr]
    rsyslog = (DOCS / "agents/rsyslog-siem.conf").read_text()
    assert f'port="{IngestSettings().ingest_syslog_port}"' in rsyslog and 'TCP_Framing="octet-counted"' in rsyslog


def test_every_documented_file_is_linked() -> None:
    """Each config file under docs/ingest is linked from its folder's README."""
    for path in DOCS.rglob("*"):
        if path.is_file() and path.name != "README.md":
            assert f"({path.name})" in (path.parent / "README.md").read_text(), path
