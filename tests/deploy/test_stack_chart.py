"""charts/siem-stack: the pipeline plus optional Kafka (Bitnami or Strimzi), Loki, Grafana and Alertmanager.

The third-party charts live in registries this machine cannot reach, so `helm dependency build` cannot run here:
the stack is linted as it is (helm only warns that the dependencies are not fetched), its Chart.yaml is checked for
the condition flags, and its own templates are rendered from a copy whose Chart.yaml keeps only charts/siem.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from kubernetes_validate import utils as kubernetes_schemas

from tests.deploy.tools import CHARTS, load_yaml

STACK = CHARTS / "siem-stack"


def _dependencies() -> list[dict[str, str]]:
    return load_yaml(STACK / "Chart.yaml")["dependencies"]  # type: ignore[no-any-return]


def test_optional_dependencies_are_behind_flags_that_default_off() -> None:
    """Each third-party dependency has a `<name>.enabled` condition, false in values.yaml; the pipeline is always in."""
    values = load_yaml(STACK / "values.yaml")
    third_party = [d for d in _dependencies() if d["name"] != "siem"]
    assert {d.get("alias", d["name"]) for d in third_party} == {"kafka", "strimzi", "loki", "grafana", "alertmanager"}
    for dependency in third_party:
        key = dependency.get("alias", dependency["name"])
        assert dependency["condition"] == f"{key}.enabled"
        assert values[key]["enabled"] is False, key
    (siem,) = [d for d in _dependencies() if d["name"] == "siem"]
    assert "condition" not in siem and siem["repository"] == "file://../siem"
    assert siem["version"] == load_yaml(CHARTS / "siem" / "Chart.yaml")["version"]


def test_the_stack_lints_but_for_the_unfetched_dependencies(helm: Path) -> None:
    """`helm lint` passes; its only warning is that the dependencies are not in charts/ yet."""
    result = subprocess.run([str(helm), "lint", str(STACK)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    warnings = [line for line in result.stdout.splitlines() if line.startswith("[WARNING]")]
    assert len(warnings) == 1 and "missing these dependencies" in warnings[0]


@pytest.fixture(scope="module")
def stack_with_siem_only(helm: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the stack whose only dependency is charts/siem, packaged into its charts/ folder."""
    copy = tmp_path_factory.mktemp("stack") / "siem-stack"
    shutil.copytree(STACK, copy)
    chart = load_yaml(copy / "Chart.yaml")
    chart["dependencies"] = [d for d in chart["dependencies"] if d["name"] == "siem"]
    (copy / "Chart.yaml").write_text(yaml.safe_dump(chart))
    (copy / "charts").mkdir()
    subprocess.run(
        [str(helm), "package", str(CHARTS / "siem"), "--destination", str(copy / "charts")],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return copy


def test_the_stack_wires_the_pipeline_to_its_services(helm: Path, stack_with_siem_only: Path) -> None:
    """Rendered through the stack, the pipeline's pods point at the stack's Kafka, Loki and Alertmanager services,
    and every manifest is valid Kubernetes; with strimzi on, a KRaft Kafka cluster for it is declared too."""
    result = subprocess.run(
        [str(helm), "template", "siem", str(stack_with_siem_only), "-n", "siem", "--set", "strimzi.enabled=true"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    documents = [d for d in yaml.safe_load_all(result.stdout) if d]
    kinds = {(d["apiVersion"], d["kind"]) for d in documents}
    assert {("kafka.strimzi.io/v1beta2", "Kafka"), ("kafka.strimzi.io/v1beta2", "KafkaNodePool")} <= kinds
    sinks = [d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"] == "siem-sinks"][0]
    env = {e["name"]: e["value"] for e in sinks["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SIEM_KAFKA_BOOTSTRAP"] == "siem-kafka:9092"
    assert env["SIEM_ALERTMANAGER_URL"] == "http://siem-alertmanager:9093"
    assert env["SIEM_LOKI_URL"] == "http://siem-loki-gateway"
    for document in documents:
        if document["apiVersion"].startswith("kafka.strimzi.io"):
            continue  # the operator's custom resources: no schema offline
        kubernetes_schemas.validate(document, "1.33", strict=True)
