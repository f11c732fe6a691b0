"""What the rendered manifests promise: restricted pods, probes and resources, only the webhook public, deny-by-default
networking, rules and dashboards as ConfigMaps, the audit outputs, and the sample app's seed numbers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import yaml

from tests.deploy.conftest import CASES
from tests.deploy.tools import ROOT, Rendered

SIEM_PORTS = {"ingest": 8080, "webhook": 8081, "correlator": 8082, "sinks": 8083}


def _pod_spec(workload: dict) -> dict:  # type: ignore[type-arg]
    return workload["spec"]["template"]["spec"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_container_is_restricted(rendered: dict[str, Rendered], case: str) -> None:
    """Each container runs as non-root with all capabilities dropped, a read-only root, no privilege escalation,
    seccomp RuntimeDefault, and no Kubernetes API token mounted: the "restricted" Pod Security level."""
    containers = list(rendered[case].containers())
    assert containers
    for workload, container in containers:
        pod = _pod_spec(workload)
        pod_context, context = pod["securityContext"], container["securityContext"]
        name = f"{workload['metadata']['name']}/{container['name']}"
        assert context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is True, name
        assert context.get("runAsUser", pod_context.get("runAsUser")) >= 10000, name
        assert context["capabilities"]["drop"] == ["ALL"] and not context["capabilities"].get("add"), name
        assert context["readOnlyRootFilesystem"] is True, name
        assert context["allowPrivilegeEscalation"] is False, name
        assert context.get("privileged", False) is False, name
        seccomp = context.get("seccompProfile", pod_context.get("seccompProfile"))
        assert seccomp == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC"), name


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_container_has_resources_and_probes(rendered: dict[str, Rendered], case: str) -> None:
    """Each container sets CPU and memory requests and limits, and liveness and readiness probes on its HTTP port."""
    for workload, container in rendered[case].containers():
        name = f"{workload['metadata']['name']}/{container['name']}"
        for bound in ("requests", "limits"):
            assert set(container["resources"][bound]) == {"cpu", "memory"}, name
        liveness = container["livenessProbe"]["httpGet"]
        readiness = container["readinessProbe"]["httpGet"]
        assert liveness["port"] == readiness["port"] == "http", name
        http = [port for port in container["ports"] if port["name"] == "http"]
        assert len(http) == 1, name
        if rendered[case].chart == "siem":
            assert (liveness["path"], readiness["path"]) == ("/healthz", "/readyz"), name
            assert http[0]["containerPort"] == SIEM_PORTS[container["name"]], name
        else:
            assert (liveness["path"], readiness["path"]) == ("/health", "/ready"), name
            assert http[0]["containerPort"] == 5000, name


@pytest.mark.parametrize("case", sorted(CASES))
def test_writable_paths_are_emptydirs(rendered: dict[str, Rendered], case: str) -> None:
    """With the root read-only, /tmp and the data directory (SIEM_VAR_DIR, the app's database) are emptyDirs."""
    for workload, container in rendered[case].containers():
        volumes = {v["name"]: v for v in _pod_spec(workload)["volumes"]}
        mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
        env = {e["name"]: e["value"] for e in container["env"]}
        data = env.get("SIEM_VAR_DIR") or env["SIEM_FLASK_APP_DB_PATH"].rsplit("/", 1)[0]
        for path in ("/tmp", data):
            assert "emptyDir" in mounts[path], f"{workload['metadata']['name']}: {path}"
            assert mounts[path]["emptyDir"]["sizeLimit"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_only_the_webhook_has_an_ingress(rendered: dict[str, Rendered], case: str) -> None:
    """No Ingress but the webhook's, which routes only /webhook/ and only over TLS; Services stay ClusterIP."""
    for ingress in rendered[case].of_kind("Ingress"):
        if rendered[case].chart == "flask-app":
            continue  # the sample app is an application: its optional Ingress is its own
        assert ingress["metadata"]["name"] == "siem-webhook"
        (rule,) = ingress["spec"]["rules"]
        backends = {(p["path"], p["backend"]["service"]["name"]) for p in rule["http"]["paths"]}
        assert backends == {("/webhook/", "siem-webhook")}
        assert ingress["spec"]["tls"][0]["hosts"] == [rule["host"]]
    assert {s["spec"]["type"] for s in rendered[case].of_kind("Service")} == {"ClusterIP"}


def test_the_production_example_exposes_the_webhook(rendered: dict[str, Rendered]) -> None:
    """The production values turn the webhook's Ingress on (and only it)."""
    assert [i["metadata"]["name"] for i in rendered["siem-production"].of_kind("Ingress")] == ["siem-webhook"]
    assert rendered["siem-default"].of_kind("Ingress") == []


@pytest.mark.parametrize("case", ["siem-default", "siem-production"])
def test_network_policies_deny_by_default(rendered: dict[str, Rendered], case: str) -> None:
    """A policy with no rules selects every pod of the release for ingress and egress; each component's own policy
    opens its HTTP port and egress to DNS, Kafka and Loki, and Alertmanager for the sinks alone."""
    policies = {p["metadata"]["name"]: p["spec"] for p in rendered[case].of_kind("NetworkPolicy")}
    deny = policies.pop("siem-default-deny")
    assert deny["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in deny and "egress" not in deny
    for deployment in rendered[case].of_kind("Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deny["podSelector"]["matchLabels"].items() <= labels.items()
    assert set(policies) == {f"siem-{name}" for name in SIEM_PORTS}
    for name, spec in policies.items():
        ports = [{p["port"] for p in rule["ports"]} for rule in spec["egress"]]
        assert {53} in ports and {9092} in ports, name
        assert ({9093} in ports) == (name == "siem-sinks"), name
        assert all(rule["from"] for rule in spec["ingress"]), name


def test_hpa_and_pdb(rendered: dict[str, Rendered]) -> None:
    """Ingest, webhook and correlator scale on CPU (autoscaling/v2); every Deployment has a PodDisruptionBudget."""
    siem = rendered["siem-default"]
    hpas = {h["metadata"]["name"]: h["spec"] for h in siem.of_kind("HorizontalPodAutoscaler")}
    assert set(hpas) == {"siem-ingest", "siem-webhook", "siem-correlator"}
    for spec in hpas.values():
        (metric,) = spec["metrics"]
        assert metric["resource"]["name"] == "cpu"
    pdbs = {p["metadata"]["name"] for p in siem.of_kind("PodDisruptionBudget")}
    assert pdbs == {d["metadata"]["name"] for d in siem.of_kind("Deployment")}


def test_the_flask_app_follows_its_seed(rendered: dict[str, Rendered]) -> None:
    """The sample app: 3 replicas, RollingUpdate 1/1, 250m/256Mi to 500m/512Mi, HPA 2-10 at 70% CPU and 80% memory."""
    app = rendered["flask-app-default"]
    (deployment,) = app.of_kind("Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1},
    }
    (container,) = _pod_spec(deployment)["containers"]
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "500m", "memory": "512Mi"},
    }
    (hpa,) = app.of_kind("HorizontalPodAutoscaler")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    targets = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa["spec"]["metrics"]}
    assert targets == {"cpu": 70, "memory": 80}
    assert [s["metadata"]["name"] for s in app.of_kind("Service")] == ["flask-app"]


def test_the_rules_configmap_carries_every_bundled_rule(rendered: dict[str, Rendered]) -> None:
    """Every rule file of rules/ is in the rules ConfigMap, and the correlator mounts it whole (no subPath, so an
    edit reaches the running pod and reloads) at the folder SIEM_RULES_DIRS names."""
    siem = rendered["siem-default"]
    data = siem.named("ConfigMap", "siem-rules")["data"]
    expected = {p.relative_to(ROOT / "rules").as_posix(): p.read_text() for p in (ROOT / "rules").rglob("*.yml")}
    correlator = siem.named("Deployment", "siem-correlator")
    (volume,) = [v for v in _pod_spec(correlator)["volumes"] if v["name"] == "rules"]
    paths = {item["path"]: item["key"] for item in volume["configMap"]["items"]}
    assert set(paths) == set(expected)
    for path, text in expected.items():
        assert data[paths[path]].rstrip("\n") == text.rstrip("\n")
    (container,) = _pod_spec(correlator)["containers"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "rules"]
    assert "subPath" not in mount and mount["mountPath"] == siem.env("siem-correlator")["SIEM_RULES_DIRS"]


def test_extra_rule_files_join_the_configmap(render_with: Callable[..., Rendered]) -> None:
    """rules.files adds a file to the ConfigMap and to the correlator's mount."""
    rule = "title: extra\nlogsource: {product: generic}\ndetection: {s: {a: b}, condition: s}\n"
    siem = render_with("siem", {"rules": {"files": {"extra.yml": rule}}})
    assert siem.named("ConfigMap", "siem-rules")["data"]["extra.yml"] == rule.rstrip("\n")
    (volume,) = [v for v in _pod_spec(siem.named("Deployment", "siem-correlator"))["volumes"] if v["name"] == "rules"]
    assert {"key": "extra.yml", "path": "extra.yml"} in volume["configMap"]["items"]


def test_dashboards_become_sidecar_configmaps(rendered: dict[str, Rendered]) -> None:
    """Each dashboards/*.json is one ConfigMap labelled for the Grafana sidecar, holding the file unchanged."""
    expected = {p.name: p.read_text() for p in (ROOT / "dashboards").glob("*.json")}
    found = {}
    for config_map in rendered["siem-default"].of_kind("ConfigMap"):
        if config_map["metadata"].get("labels", {}).get("grafana_dashboard") == "1":
            assert config_map["metadata"]["annotations"]["grafana_folder"] == "SIEM"
            found.update(config_map["data"])
    assert {name: text.rstrip("\n") for name, text in expected.items()} == found


def test_the_audit_outputs_point_at_ingest(rendered: dict[str, Rendered]) -> None:
    """The audit ConfigMap holds an audit.k8s.io/v1 Policy that never logs secret bodies, and a webhook kubeconfig
    that posts to ingest's /v1/k8s/audit with a token read from a file on the node (never in the manifest)."""
    data = rendered["siem-default"].named("ConfigMap", "siem-k8s-audit")["data"]
    policy = yaml.safe_load(data["audit-policy.yaml"])
    assert (policy["apiVersion"], policy["kind"]) == ("audit.k8s.io/v1", "Policy")
    secret_rules = [
        r for r in policy["rules"] if any("secrets" in g.get("resources", []) for g in r.get("resources", []))
    ]
    assert secret_rules and secret_rules[0]["level"] == "Metadata"
    kubeconfig = yaml.safe_load(data["audit-webhook.kubeconfig"])
    (cluster,) = kubeconfig["clusters"]
    assert cluster["cluster"]["server"] == "http://siem-ingest.siem.svc:8080/v1/k8s/audit"
    (user,) = kubeconfig["users"]
    assert set(user["user"]) == {"tokenFile"}
    production = rendered["siem-production"].named("ConfigMap", "siem-k8s-audit")["data"]
    assert yaml.safe_load(production["audit-webhook.kubeconfig"])["clusters"][0]["cluster"]["server"].startswith(
        "https://"
    )


def test_monitoring_resources_are_optional_and_well_formed(rendered: dict[str, Rendered]) -> None:
    """ServiceMonitor and PrometheusRule are off by default; on, the monitor scrapes every Service's http port and
    every alert rule has an expression, a severity and a summary."""
    assert not rendered["siem-default"].of_kind("ServiceMonitor")
    production = rendered["siem-production"]
    (monitor,) = production.of_kind("ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == "http"
    for service in production.of_kind("Service"):
        assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    (rule,) = production.of_kind("PrometheusRule")
    alerts = [r for group in rule["spec"]["groups"] for r in group["rules"]]
    assert alerts and all(r["expr"] and r["labels"]["severity"] and r["annotations"]["summary"] for r in alerts)


@pytest.mark.parametrize("case", ["siem-default", "siem-production"])
def test_consumers_never_outnumber_partitions(rendered: dict[str, Rendered], case: str) -> None:
    """No HPA may scale a Kafka consumer (correlator, sinks) past the topics' partition count: the extra pods idle."""
    from services.shared.settings import CommonSettings

    siem = rendered[case]
    for hpa in siem.of_kind("HorizontalPodAutoscaler"):
        name = hpa["metadata"]["name"]
        if name in ("siem-correlator", "siem-sinks"):
            default = CommonSettings.model_fields["kafka_partitions"].default
            partitions = int(siem.env(name).get("SIEM_KAFKA_PARTITIONS", default))
            assert hpa["spec"]["maxReplicas"] <= partitions, name
