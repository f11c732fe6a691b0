"""docker-compose.yml, checked without a Docker engine: the Compose specification's JSON schema (as vendored by
PyPI's check-jsonschema), the files it builds and mounts, what it publishes, and the configs it mounts (Alertmanager's
checked by the real amtool; Prometheus' and Grafana's against the services they point at)."""

from __future__ import annotations

import copy
import json
import subprocess
from importlib import resources
from typing import Any

import jsonschema
import pytest

from services.correlator.settings import CorrelatorSettings
from services.correlator.sinks.settings import SinksSettings
from services.flask_app.settings import FlaskAppSettings
from services.ingest.settings import IngestSettings
from services.shared.settings import CommonSettings
from services.webhook.settings import WebhookSettings
from tests.deploy.tools import ROOT, load_yaml

COMPOSE = ROOT / "docker-compose.yml"
SETTINGS: dict[str, type[CommonSettings]] = {
    "ingest": IngestSettings,
    "webhook": WebhookSettings,
    "correlator": CorrelatorSettings,
    "sinks": SinksSettings,
    "flask-app": FlaskAppSettings,
}
PUBLIC = {"webhook", "grafana"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    """The Compose specification's schema, as vendored by check-jsonschema (offline)."""
    text = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text()
    return json.loads(text)  # type: ignore[no-any-return]


def test_compose_file_follows_the_specification(compose: dict[str, Any], spec: dict[str, Any]) -> None:
    """docker-compose.yml (anchors merged, as Compose reads it) is valid against the compose-spec JSON schema."""
    jsonschema.validate(compose, spec)


def test_the_schema_check_can_fail(compose: dict[str, Any], spec: dict[str, Any]) -> None:
    """A misspelled key in a service is refused by the same schema."""
    broken = copy.deepcopy(compose)
    broken["services"]["ingest"]["healtcheck"] = broken["services"]["ingest"].pop("healthcheck")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, spec)


def test_every_build_has_its_dockerfile(compose: dict[str, Any]) -> None:
    """Each built service builds from the repository root with docker/<service>/Dockerfile, which exists; every
    service image of docker/ is built."""
    built = {name: s["build"] for name, s in compose["services"].items() if "build" in s}
    assert set(built) == set(SETTINGS)
    for name, build in built.items():
        assert (ROOT / build["context"]).resolve() == ROOT
        assert build["dockerfile"] == f"docker/{name}/Dockerfile"
        assert (ROOT / build["dockerfile"]).is_file()


def test_every_mounted_file_exists(compose: dict[str, Any]) -> None:
    """Each bind mount (a volume whose source is a path) names a file or folder of the repository."""
    mounts = [v.split(":")[0] for s in compose["services"].values() for v in s.get("volumes", []) if v.startswith(".")]
    assert mounts
    assert [m for m in mounts if not (ROOT / m).exists()] == []


def test_only_webhook_and_grafana_listen_beyond_localhost(compose: dict[str, Any]) -> None:
    """Every published port is bound to 127.0.0.1, except the webhook's and Grafana's."""
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:") != (name in PUBLIC), f"{name}: {port}"


def test_healthchecks_and_start_order(compose: dict[str, Any]) -> None:
    """Every service has a healthcheck, and waits for what it depends on to be healthy, not merely started."""
    for name, service in compose["services"].items():
        assert service["healthcheck"]["test"], name
        for dependency, condition in service.get("depends_on", {}).items():
            assert condition == {"condition": "service_healthy"}, f"{name} -> {dependency}"
            assert dependency in compose["services"]


def test_services_run_locked_down(compose: dict[str, Any]) -> None:
    """The built services run as uid 10001, read-only, without capabilities or privilege escalation, with memory
    scratch space for the only paths they write."""
    for name in SETTINGS:
        service = compose["services"][name]
        assert service["user"] == "10001:10001" and service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"] and "no-new-privileges:true" in service["security_opt"], name
        assert any(t.startswith("/tmp:") for t in service["tmpfs"]), name


def test_environment_is_settings_and_secrets_are_files(compose: dict[str, Any]) -> None:
    """Every SIEM_ variable a service gets is one of its settings; secrets arrive as _FILE under /run/secrets, from
    Compose secrets fed by the environment of `docker compose up` (never a value in the file)."""
    for name, settings in SETTINGS.items():
        service = compose["services"][name]
        for variable, value in service["environment"].items():
            setting = variable.removeprefix("SIEM_").lower()
            if setting.endswith("_file") and setting.removesuffix("_file") in settings.model_fields:
                assert value.startswith("/run/secrets/") and value.rsplit("/", 1)[1] in service["secrets"], variable
            else:
                assert setting in settings.model_fields, f"{name}: {variable}"
    for secret in compose["secrets"].values():
        assert set(secret) == {"environment"}


def test_alertmanager_config_is_valid(compose: dict[str, Any]) -> None:
    """The Alertmanager config the stack mounts passes the real `amtool check-config` (Debian's package)."""
    (mount,) = [v for v in compose["services"]["alertmanager"]["volumes"] if v.startswith("./")]
    result = subprocess.run(["amtool", "check-config", str(ROOT / mount.split(":")[0])], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_scrapes_every_service(compose: dict[str, Any]) -> None:
    """Prometheus' scrape targets include each built service at its settings' default port."""
    (mount,) = [v for v in compose["services"]["prometheus"]["volumes"] if v.startswith("./")]
    config = load_yaml(ROOT / mount.split(":")[0])
    targets = {t for job in config["scrape_configs"] for group in job["static_configs"] for t in group["targets"]}
    for name, settings in SETTINGS.items():
        port_field = "flask_app_port" if name == "flask-app" else f"{name}_port"
        assert f"{name}:{settings.model_fields[port_field].default}" in targets


def test_grafana_is_provisioned_with_our_sources_and_dashboards(compose: dict[str, Any]) -> None:
    """Grafana gets Loki (with the uid the sinks link alerts to), Prometheus and Alertmanager as data sources, and
    a dashboard provider reading the mounted dashboards/ folder."""
    volumes = {v.split(":")[1]: v.split(":")[0] for v in compose["services"]["grafana"]["volumes"]}
    provisioning = ROOT / volumes["/etc/grafana/provisioning"]
    sources = [s for f in (provisioning / "datasources").glob("*.yaml") for s in load_yaml(f)["datasources"]]
    by_type = {s["type"]: s for s in sources}
    assert set(by_type) == {"loki", "prometheus", "alertmanager"}
    assert by_type["loki"]["uid"] == SinksSettings.model_fields["grafana_loki_datasource_uid"].default
    assert by_type["loki"]["url"] == compose["services"]["ingest"]["environment"]["SIEM_LOKI_URL"]
    (provider,) = [p for f in (provisioning / "dashboards").glob("*.yaml") for p in load_yaml(f)["providers"]]
    assert volumes[provider["options"]["path"]] == "./dashboards"


def test_kafka_is_reachable_from_containers_and_host(compose: dict[str, Any]) -> None:
    """Kafka advertises kafka:19092 to the containers (their SIEM_KAFKA_BOOTSTRAP) and 127.0.0.1:9092 to the host."""
    kafka = compose["services"]["kafka"]["environment"]
    advertised = set(kafka["KAFKA_ADVERTISED_LISTENERS"].split(","))
    assert {"PLAINTEXT://127.0.0.1:9092", "INTERNAL://kafka:19092"} == advertised
    for name in ("ingest", "webhook", "correlator", "sinks"):
        assert compose["services"][name]["environment"]["SIEM_KAFKA_BOOTSTRAP"] == "kafka:19092"
