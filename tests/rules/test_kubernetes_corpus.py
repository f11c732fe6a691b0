"""Kubernetes rules on real audit events (Falco's trace files, audit2rbac's demo) through `--format k8s_audit`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.rules.conftest import SiemRun

Replay = Callable[..., SiemRun]
TRACES = Path("k8s-audit/falco-trace-files")
EXEC = "Kubernetes Exec Or Attach Into Pod"
HOST_ACCESS = "Kubernetes Privileged Or Host Access Pod Created"
# Pods whose only host access is in a list of the spec (containers, volumes): a path reads into each element.
LIST_ELEMENT_TRACES = [
    "create_nginx_pod_privileged.json",
    "create_nginx_pod_privileged_2nd_container.json",
    "create_nginx_pod_no_secctx_1st_container_privileged_2nd_container.json",
    "create_nginx_pod_sensitive_mount.json",
    "create_nginx_pod_sensitive_mount_2nd_container.json",
]


def titles(result: SiemRun) -> list[str]:
    return [alert.rule.title for alert in result.alerts()]


@pytest.mark.parametrize("trace", ["exec_pod.json", "attach_pod.json"])
def test_exec_and_attach_fire_once(trace: str, corpus: Path, replay: Replay) -> None:
    """`kubectl exec` and `kubectl attach` (ResponseStarted, 101) each raise exactly one alert."""
    result = replay("k8s_audit", corpus / TRACES / trace)
    assert titles(result) == [EXEC]


def test_host_network_pod_fires(corpus: Path, replay: Replay) -> None:
    """A pod with `hostNetwork: true` raises the host access alert; its twin without it raises none."""
    assert titles(replay("k8s_audit", corpus / TRACES / "create_nginx_pod_hostnetwork.json")) == [HOST_ACCESS]
    assert titles(replay("k8s_audit", corpus / TRACES / "create_nginx_pod_nohostnetwork.json")) == []
    assert titles(replay("k8s_audit", corpus / TRACES / "create_nginx_pod_unprivileged.json")) == []


@pytest.mark.parametrize("trace", LIST_ELEMENT_TRACES)
def test_privileged_and_host_path_pods_fire(trace: str, corpus: Path, replay: Replay) -> None:
    """A privileged container or a hostPath volume (list elements of the pod spec) raises the host access alert."""
    assert titles(replay("k8s_audit", corpus / TRACES / trace)) == [HOST_ACCESS]


def test_cluster_admin_binding_fires_and_another_binding_does_not(corpus: Path, replay: Replay) -> None:
    """Binding cluster-admin alerts; binding system:basic-user (create_clusterrolebinding.json) does not."""
    assert titles(replay("k8s_audit", corpus / TRACES / "attach_cluster_admin_role.json")) == [
        "Kubernetes Cluster Admin Role Bound"
    ]
    assert titles(replay("k8s_audit", corpus / TRACES / "create_clusterrolebinding.json")) == []


def test_anonymous_namespace_creation_fires(corpus: Path, replay: Replay) -> None:
    """system:anonymous creating a namespace alerts; minikube-user doing the same does not."""
    assert titles(replay("k8s_audit", corpus / TRACES / "anonymous_creates_namespace_foo.json")) == [
        "Kubernetes Anonymous Request Succeeded"
    ]
    assert titles(replay("k8s_audit", corpus / TRACES / "minikube_creates_namespace_foo.json")) == []


def test_kube_system_pod_by_a_controller_is_a_near_miss(corpus: Path, replay: Replay, tmp_path: Path) -> None:
    """The replicaset controller's pod in kube-system raises nothing; the same request by a person does."""
    trace = corpus / TRACES / "create_pod_kube_system_namespace.json"
    assert titles(replay("k8s_audit", trace)) == []
    event = json.loads(trace.read_text())
    event["user"] = {"username": "minikube-user", "groups": ["system:masters", "system:authenticated"]}
    by_a_person = tmp_path / "create_pod_kube_system_namespace_by_a_person.json"
    by_a_person.write_text(json.dumps(event))
    assert titles(replay("k8s_audit", by_a_person)) == ["Kubernetes Pod Created In kube-system By Non-System User"]


def test_every_trace_file_replays_and_quiet_ones_stay_quiet(corpus: Path, replay: Replay) -> None:
    """All Falco trace files and the audit2rbac demo parse; only the files named above raise alerts."""
    noisy = {
        "exec_pod.json",
        "attach_pod.json",
        "create_nginx_pod_hostnetwork.json",
        "attach_cluster_admin_role.json",
        "anonymous_creates_namespace_foo.json",
    }
    # The privileged and hostPath pods are left out: the test above holds what they raise.
    files = [p for p in sorted((corpus / TRACES).glob("*.json")) if p.name not in LIST_ELEMENT_TRACES]
    files.append(corpus / "k8s-audit/audit2rbac/demo.log")
    alerting = {path.name for path in files if replay("k8s_audit", path).alerts()}
    assert alerting == noisy
