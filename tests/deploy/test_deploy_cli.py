"""`siem deploy` through pyhelm3: the same manifests as `helm template`, and clear errors without helm or a cluster.

There is no Kubernetes cluster here: install, upgrade, rollback and status are run against a kubeconfig whose API
server is a closed port on 127.0.0.1, which is what a developer without a cluster meets; their success paths need a
cluster and are not claimed by these tests.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.conftest import CASES
from tests.deploy.tools import CHARTS, NAMESPACES, RELEASES, ROOT, helm_template_args
from tests.infra import free_port

SIEM = ROOT / ".venv" / "bin" / "siem"
# The chart-created Secret's generated tokens differ on every render: these cases give them all.
FIXED_SECRETS = {
    "secrets": {"create": {"ingest_tokens": "t1", "webhook_github_secrets": "s1", "flask_app_tokens": "f1"}}
}


def _siem(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SIEM), "deploy", *args], capture_output=True, text=True, timeout=180, cwd=cwd, env=env or dict(os.environ)
    )


@pytest.fixture
def no_cluster(tmp_path: Path) -> dict[str, str]:
    """An environment whose kubeconfig points at a port on 127.0.0.1 where nothing listens."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "gone", "cluster": {"server": f"https://127.0.0.1:{free_port()}"}}],
                "users": [{"name": "me", "user": {"token": "x"}}],
                "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "me"}}],
                "current-context": "gone",
            }
        )
    )
    return {**os.environ, "KUBECONFIG": str(kubeconfig)}


@pytest.mark.parametrize("case", sorted(CASES))
def test_template_matches_helm_template(helm: Path, case: str, tmp_path: Path) -> None:
    """`siem deploy template` (pyhelm3) renders exactly the manifests `helm template` renders, same values."""
    chart, files = CASES[case]
    fixed = tmp_path / "fixed.yaml"
    fixed.write_text(yaml.safe_dump(FIXED_SECRETS))
    values = [str(CHARTS / chart / f) for f in files] + [str(fixed)]
    expected = subprocess.run(
        [str(helm), *helm_template_args(chart, values)], capture_output=True, text=True, timeout=120, check=True
    )
    args = ["template", "--chart", str(CHARTS / chart), "--release", RELEASES[chart], "-n", NAMESPACES[chart]]
    for value_file in values:
        args += ["--values", value_file]
    ours = _siem(*args, "--helm", str(helm))
    assert ours.returncode == 0, ours.stderr
    theirs = [d for d in yaml.safe_load_all(expected.stdout) if d]
    assert [d for d in yaml.safe_load_all(ours.stdout) if d] == theirs
    assert len(theirs) > 5
    assert f"rendered {len(theirs)} manifests" in ours.stderr


def test_template_ships_extra_rule_folders(helm: Path, tmp_path: Path) -> None:
    """--rules DIR puts DIR's rule files (sub-folders flattened with __) into the rules ConfigMap."""
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / "mine.yml").write_text("title: mine\n")
    result = _siem("template", "--rules", str(tmp_path), "--helm", str(helm))
    assert result.returncode == 0, result.stderr
    (rules,) = [d for d in yaml.safe_load_all(result.stdout) if d and d["metadata"]["name"] == "siem-rules"]
    assert rules["data"]["team__mine.yml"] == "title: mine"


@pytest.mark.parametrize(
    "action", [["status"], ["install", "--dry-run"], ["upgrade"], ["rollback", "--revision", "1"]], ids=" ".join
)
def test_no_cluster_is_a_clear_error(helm: Path, no_cluster: dict[str, str], action: list[str]) -> None:
    """Without a reachable cluster every action that needs one exits 1 saying so, and how to check."""
    result = _siem(*action, "--helm", str(helm), env=no_cluster)
    assert result.returncode == 1
    assert "cannot reach the Kubernetes cluster" in result.stderr
    assert "Traceback" not in result.stderr
    assert "siem deploy: helm 3." in result.stderr  # progress came first


def test_no_helm_is_a_clear_error(tmp_path: Path) -> None:
    """Without helm on PATH, in the cache or at --helm, the command says where helm comes from."""
    env = {**os.environ, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = _siem("template", env=env)
    assert result.returncode == 1
    assert "helm not found" in result.stderr and "scripts/helm.sh install" in result.stderr
    wrong = _siem("status", "--helm", str(tmp_path / "nothing"))
    assert wrong.returncode == 1 and "helm not found at" in wrong.stderr


def test_bad_values_are_clear_errors(helm: Path, tmp_path: Path) -> None:
    """A values file that is missing, not YAML, or refused by the chart's schema is named with the reason."""
    missing = _siem("template", "-f", str(tmp_path / "none.yaml"), "--helm", str(helm))
    assert missing.returncode == 1 and "none.yaml: cannot read the values file" in missing.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("ingest:\n  replicas: [1\n")
    not_yaml = _siem("template", "-f", str(broken), "--helm", str(helm))
    assert not_yaml.returncode == 1 and f"{broken}:3: not YAML" in not_yaml.stderr
    refused = tmp_path / "refused.yaml"
    refused.write_text("ingest:\n  replicas: 0\n")
    schema = _siem("template", "-f", str(refused), "--helm", str(helm))
    assert schema.returncode == 1
    assert "values.schema.json refuses the values" in schema.stderr and "/ingest/replicas" in schema.stderr
    assert "walk.go" not in schema.stderr


def test_a_missing_chart_is_a_clear_error(helm: Path, tmp_path: Path) -> None:
    """Run away from the repository root without --chart, the command says where it looked."""
    result = _siem("template", "--helm", str(helm), cwd=tmp_path)
    assert result.returncode == 1 and "charts/siem: no Chart.yaml there" in result.stderr
