"""Both charts pass `helm lint --strict` and render manifests that Kubernetes 1.29 to 1.33 accept.

No cluster runs here: the manifests are checked against Kubernetes' own OpenAPI schemas, strict variant (unknown
fields refused), as shipped offline by PyPI's kubernetes-validate. Prometheus Operator kinds (ServiceMonitor,
PrometheusRule) are custom resources with no schema there; they are checked for shape in test_manifests.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from kubernetes_validate import utils as kubernetes_schemas

from tests.deploy.conftest import CASES
from tests.deploy.tools import CHARTS, Rendered

KUBERNETES_VERSIONS = ["1.29", "1.30", "1.31", "1.32", "1.33"]
CUSTOM_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor"), ("monitoring.coreos.com/v1", "PrometheusRule")}


def test_kubernetes_validate_ships_every_version_we_support() -> None:
    """The installed kubernetes-validate holds a schema set for each Kubernetes version the charts support."""
    shipped = {kubernetes_schemas.major_minor(v) for v in kubernetes_schemas.all_versions()}
    assert set(KUBERNETES_VERSIONS) <= shipped


@pytest.mark.parametrize("case", sorted(CASES))
def test_helm_lint_strict_passes(helm: Path, case: str) -> None:
    """`helm lint --strict` (warnings are errors) passes for each chart with its default and production values."""
    chart, files = CASES[case]
    args = [str(helm), "lint", "--strict", str(CHARTS / chart)]
    for values in files:
        args += ["--values", str(CHARTS / chart / values)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_manifest_is_valid_kubernetes(rendered: dict[str, Rendered], case: str, version: str) -> None:
    """Every rendered manifest validates against that Kubernetes version's strict schema."""
    documents = rendered[case].documents
    assert documents, "nothing rendered"
    problems = []
    for document in documents:
        if (document["apiVersion"], document["kind"]) in CUSTOM_KINDS:
            continue
        try:
            kubernetes_schemas.validate(document, version, strict=True)
        except kubernetes_schemas.ValidationError as exc:
            where = ".".join(str(part) for part in exc.path)
            problems.append(f"{document['kind']}/{document['metadata']['name']}: {where}: {exc.message}")
        except kubernetes_schemas.SchemaNotFoundError as exc:
            problems.append(exc.message)
    assert problems == []


def test_a_broken_manifest_is_refused_by_the_schemas() -> None:
    """The schema check can fail: a Deployment with a misspelled field is refused under the strict schema."""
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"replica": 1, "selector": {"matchLabels": {"a": "b"}}, "template": {"spec": {"containers": []}}},
    }
    with pytest.raises(kubernetes_schemas.ValidationError):
        kubernetes_schemas.validate(deployment, "1.33", strict=True)


@pytest.mark.parametrize("chart", ["siem", "flask-app"])
def test_the_charts_refuse_kubernetes_older_than_1_29(helm: Path, chart: str) -> None:
    """Chart.yaml's kubeVersion makes helm refuse a cluster older than the oldest one the schemas checked."""
    result = subprocess.run(
        [str(helm), "template", "x", str(CHARTS / chart), "--kube-version", "1.28.0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "incompatible with Kubernetes v1.28.0" in result.stderr
