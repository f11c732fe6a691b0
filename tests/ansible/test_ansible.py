"""The Ansible layer: every playbook parses, ansible-lint's production profile passes, the templates render right.

There is no cluster here, so the roles' effects are not run; the templates are rendered through
the roles' own code (tests/ansible/render.yml) with the example inventory, and what they render
is checked against the contracts it must meet: the API server's audit Policy and webhook
kubeconfig (ingest's /v1/k8s/audit on port 8080 with a bearer token), Jenkins' JCasC against
the Jenkinsfile, and Alloy's push to ingest.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra import ROOT

ANSIBLE = ROOT / "ansible"
BIN = Path(sys.executable).parent
TOKEN = "example-ingest-token-0123456789"
PLAYBOOKS = sorted([ANSIBLE / "site.yml", *(ANSIBLE / "playbooks").glob("*.yml")])
AUDIT_LEVELS = {"None", "Metadata", "Request", "RequestResponse"}


def _ansible(*command: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SIEM_INGEST_TOKEN": TOKEN, "ANSIBLE_NOCOLOR": "1", "NO_COLOR": "1"}
    return subprocess.run(command, cwd=ANSIBLE, env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The roles' templates rendered with the example inventory."""
    target = tmp_path_factory.mktemp("rendered")
    render = ROOT / "tests" / "ansible" / "render.yml"
    result = _ansible(
        str(BIN / "ansible-playbook"), "-i", "inventory/example", str(render), "-e", f"render_dir={target}"
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return target


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_there_are_playbooks() -> None:
    """site.yml and the per-component playbooks are all found (so the parametrized checks cover something)."""
    assert {p.name for p in PLAYBOOKS} >= {"site.yml", "cluster.yml", "platform.yml", "apps.yml", "audit.yml"}


@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=lambda p: p.name)
def test_playbook_passes_the_syntax_check(playbook: Path) -> None:
    """`ansible-playbook --syntax-check` accepts the playbook with the example inventory."""
    result = _ansible(str(BIN / "ansible-playbook"), "--syntax-check", "-i", "inventory/example", str(playbook))
    assert result.returncode == 0, result.stdout + result.stderr


def test_ansible_lint_production_profile_is_clean() -> None:
    """ansible-lint (production profile, offline, per ansible/.ansible-lint) reports no failure and no warning."""
    result = _ansible(str(BIN / "ansible-lint"), "--nocolor")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "Profile 'production' was required, and it passed" in output
    assert re.search(r"0 failure\(s\), 0 warning\(s\) in \d+ files", output), output[-2000:]


def _first_rule_for(policy: dict[str, Any], group: str, resource: str, verb: str) -> str:
    """The level the API server applies to a request on group/resource: the first rule that matches it."""
    for rule in policy["rules"]:
        if "nonResourceURLs" in rule or "users" in rule or "userGroups" in rule:
            continue  # these rules only narrow to other requests
        if "verbs" in rule and verb not in rule["verbs"]:
            continue
        if "resources" in rule and not any(
            r["group"] == group and resource in r["resources"] for r in rule["resources"]
        ):
            continue
        return str(rule["level"])
    raise AssertionError(f"no rule for {group}/{resource} {verb}")


def test_the_audit_policy_is_a_valid_policy_that_never_sends_secret_bodies(rendered: Path) -> None:
    """The Policy is audit.k8s.io/v1 with valid levels; secrets only at Metadata, exec and RBAC with bodies."""
    policy = _yaml(rendered / "audit-policy.yaml")
    assert (policy["apiVersion"], policy["kind"]) == ("audit.k8s.io/v1", "Policy")
    assert policy["omitStages"] == ["RequestReceived"]
    assert {rule["level"] for rule in policy["rules"]} <= AUDIT_LEVELS
    assert policy["rules"][-1] == {"level": "Metadata"}  # nothing falls through unlogged
    for verb in ("get", "list", "create", "delete"):
        assert _first_rule_for(policy, "", "secrets", verb) == "Metadata"
        assert _first_rule_for(policy, "", "configmaps", verb) == "Metadata"
    assert _first_rule_for(policy, "", "pods/exec", "create") == "RequestResponse"
    assert _first_rule_for(policy, "rbac.authorization.k8s.io", "clusterrolebindings", "create") == "RequestResponse"
    assert _first_rule_for(policy, "apps", "deployments", "patch") == "Request"
    assert _first_rule_for(policy, "apps", "deployments", "get") == "Metadata"


def test_the_webhook_kubeconfig_points_at_ingest_with_the_token(rendered: Path) -> None:
    """The webhook kubeconfig sends to ingest's /v1/k8s/audit on port 8080 with the bearer token, consistently named."""
    config = _yaml(rendered / "audit-webhook.kubeconfig")
    assert (config["apiVersion"], config["kind"]) == ("v1", "Config")
    (cluster,) = config["clusters"]
    (user,) = config["users"]
    (context,) = config["contexts"]
    assert cluster["cluster"]["server"] == "http://siem-ingest.siem.svc.cluster.local:8080/v1/k8s/audit"
    assert user["user"] == {"token": TOKEN}
    assert context["context"] == {"cluster": cluster["name"], "user": user["name"]}
    assert config["current-context"] == context["name"]
    assert (rendered / "audit-webhook.kubeconfig").stat().st_mode & 0o077 == 0  # the token is readable by root only


def test_jenkins_casc_defines_what_the_jenkinsfile_and_the_job_use(rendered: Path) -> None:
    """JCasC defines every credential the Jenkinsfile and the job name, and each ${secret} is a mounted Secret key."""
    values = _yaml(rendered / "jenkins-values.yaml")["controller"]
    casc_text = values["JCasC"]["configScripts"]["siem"]
    casc = yaml.safe_load(casc_text)
    credentials = casc["credentials"]["system"]["domainCredentials"][0]["credentials"]
    defined = {next(iter(c.values()))["id"] for c in credentials}

    jenkinsfile = (ROOT / "Jenkinsfile").read_text()
    used = set(re.findall(r"credentialsId: '([\w-]+)'", jenkinsfile))
    used |= set(re.findall(r"(?:urlOrId|credentials)\('([\w-]+)'\)", casc["jobs"][0]["script"]))
    assert used == {"siem-ingest-token", "siem-ingest-notify-url", "kaniko-git"}
    assert used <= defined

    mounted = {f"{s['name']}-{s['keyName']}" for s in values["additionalExistingSecrets"]}
    assert set(re.findall(r"\$\{([\w-]+)\}", casc_text)) == mounted
    plugins = set(values["installPlugins"]) | set(values["additionalPlugins"])
    assert {"configuration-as-code", "job-dsl", "notification", "kubernetes", "sonar", "coverage", "junit"} <= plugins
    assert "pipelineJob('flask-app')" in casc["jobs"][0]["script"]
    assert "scriptPath('Jenkinsfile')" in casc["jobs"][0]["script"]


def test_alloy_pushes_app_logs_to_ingest_with_the_token_secret(rendered: Path) -> None:
    """Alloy tails the apps namespace and pushes to ingest's Loki endpoint with the token Ansible stores."""
    alloy = _yaml(rendered / "alloy-values.yaml")["alloy"]
    config = alloy["configMap"]["content"]
    assert 'url          = "http://siem-ingest.siem.svc.cluster.local:8080/loki/api/v1/push"' in config
    assert 'bearer_token = sys.env("SIEM_INGEST_TOKEN")' in config
    assert 'names = ["apps"]' in config
    (env,) = alloy["extraEnv"]
    assert env["valueFrom"]["secretKeyRef"] == {"name": "siem-ingest", "key": "token"}
    platform = _yaml(ANSIBLE / "playbooks" / "platform.yml")
    secrets = [t["kubernetes.core.k8s"]["definition"] for t in platform[0]["pre_tasks"]]
    assert any(s["metadata"]["name"] == "siem-ingest" and "token" in s["stringData"] for s in secrets)
    assert TOKEN not in config
