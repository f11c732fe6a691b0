"""Chart values and the services' settings classes stay one to one as both grow.

Every field of a component's settings class (its `model_fields`) must be reachable from the chart's values: a plain
setting through `<component>.settings.<name>` as SIEM_<NAME>, a secret one through `secretSettings` as
SIEM_<NAME>_FILE; and the chart may set no SIEM_ variable that is not one of them. The environment the chart renders
must also load through the real settings class, so a rendered pod would start past its configuration check.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from services.deploy.values_schema import (
    CHART_COMPONENTS,
    CHART_MANAGED,
    Component,
    env_name,
    generated_defs,
    plain_fields,
    schema_path,
    secret_fields,
    stale_defs,
)
from tests.deploy.conftest import CASES
from tests.deploy.tools import Rendered

# (chart, component) -> the Deployment it renders and where its settings live in the values.
COMPONENTS: dict[tuple[str, str], tuple[Component, str, list[str]]] = {
    **{("siem", c.key): (c, f"siem-{c.key}", [c.key]) for c in CHART_COMPONENTS["siem"]},
    ("flask-app", "flaskApp"): (CHART_COMPONENTS["flask-app"][0], "flask-app", []),
}


def _at(path: list[str], leaf: dict[str, Any]) -> dict[str, Any]:
    """A values overlay putting `leaf` under `path` (the component's block, or the top level)."""
    for key in reversed(path):
        leaf = {key: leaf}
    return leaf


def _sample(name: str, schema: dict[str, Any]) -> Any:
    """A value the schema accepts: the setting's default where it has one, a path-like string otherwise."""
    if schema.get("default") is not None:
        return schema["default"]
    return f"/sample/{name}"


def _as_env_text(name: str, value: Any) -> str:
    """What the settings classes expect in SIEM_<NAME>: lists joined (colons for *_dirs), JSON-ish scalars."""
    if isinstance(value, list):
        return (":" if name.endswith("dirs") else ",").join(str(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@pytest.mark.parametrize("chart", sorted(CHART_COMPONENTS))
def test_the_schema_is_generated_from_the_settings_classes(chart: str) -> None:
    """The settings `$defs` of values.schema.json equal what the settings classes generate today
    (run `python -m services.deploy.values_schema` after changing a settings class)."""
    assert stale_defs(chart) == []


@pytest.mark.parametrize("key", sorted(COMPONENTS), ids=lambda k: f"{k[0]}-{k[1]}")
def test_every_plain_setting_reaches_its_container(render_with: Callable[..., Rendered], key: tuple[str, str]) -> None:
    """Each plain field of the component's settings class, set in its values, arrives as SIEM_<NAME> with the text
    the settings class parses (numbers never in Helm's float notation, lists joined)."""
    chart, _ = key
    component, deployment, path = COMPONENTS[key]
    properties = generated_defs(chart)[f"{component.key}Settings"]["properties"]
    assert set(properties) == set(plain_fields(component.settings))
    values = {name: _sample(name, schema) for name, schema in properties.items()}
    env = render_with(chart, _at(path, {"settings": values})).env(deployment)
    for name, value in values.items():
        assert env.get(env_name(name)) == _as_env_text(name, value), name
    assert env["SIEM_HOST"] == "0.0.0.0"


@pytest.mark.parametrize("key", sorted(COMPONENTS), ids=lambda k: f"{k[0]}-{k[1]}")
def test_every_secret_setting_is_mounted_as_a_file(render_with: Callable[..., Rendered], key: tuple[str, str]) -> None:
    """Each secret field, listed in secretSettings, becomes SIEM_<NAME>_FILE naming a file mounted from the
    release's Secret, which holds its value; no secret value is ever put in the environment."""
    chart, _ = key
    component, deployment, path = COMPONENTS[key]
    secrets = secret_fields(component.settings)
    assert secrets, "every component has at least the Loki credentials"
    overlay = {**_at(path, {"secretSettings": secrets}), "secrets": {"create": {s: f"value-of-{s}" for s in secrets}}}
    rendered = render_with(chart, overlay)
    env = rendered.env(deployment)
    (container,) = rendered.named("Deployment", deployment)["spec"]["template"]["spec"]["containers"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "secrets"]
    (secret,) = rendered.of_kind("Secret")
    for name in secrets:
        assert env[env_name(name, file=True)] == f"{mount['mountPath']}/{name}"
        assert env_name(name) not in env
        assert base64.b64decode(secret["data"][name]).decode() == f"value-of-{name}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_chart_sets_only_settings(rendered: dict[str, Rendered], case: str) -> None:
    """Every SIEM_ variable a container gets is a field of its component's settings class (or its _FILE form)."""
    for (chart, _), (component, deployment, _) in COMPONENTS.items():
        if chart != CASES[case][0]:
            continue
        fields = set(component.settings.model_fields)
        for name in rendered[case].env(deployment):
            assert name.startswith("SIEM_"), name
            setting = name.removeprefix("SIEM_").lower()
            assert setting in fields or (setting.endswith("_file") and setting.removesuffix("_file") in fields), name
            assert setting not in CHART_MANAGED or name == "SIEM_HOST"


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_rendered_environment_loads(
    rendered: dict[str, Rendered], case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each container's rendered environment, with its secret files in place, passes its settings class's own
    checks (ingest refuses 0.0.0.0 without tokens: the chart must provide them)."""
    chart = CASES[case][0]
    secret = rendered[case].of_kind("Secret")
    stored = {k: base64.b64decode(v).decode() for k, v in secret[0]["data"].items()} if secret else {}
    for (owner, _), (component, deployment, _) in COMPONENTS.items():
        if owner != chart:
            continue
        for name in [n for n in os.environ if n.startswith("SIEM_")]:
            monkeypatch.delenv(name)
        for name, value in rendered[case].env(deployment).items():
            setting = name.removeprefix("SIEM_").lower().removesuffix("_file")
            if name.endswith("_FILE") and setting in secret_fields(component.settings):
                file = tmp_path / deployment / setting
                file.parent.mkdir(exist_ok=True)
                # An existingSecret is not in the manifests: stand in a value of the right shape.
                file.write_text(stored.get(setting, "token-from-the-existing-secret"))
                value = str(file)
            monkeypatch.setenv(name, value)
        settings = component.settings.load()
        assert settings.host == "0.0.0.0"


def test_the_schema_refuses_what_the_service_would(render_with: Callable[..., Rendered]) -> None:
    """A value out of the setting's range, or a key no settings class has, fails `helm template` with the path."""
    too_small = render_with("siem", {"ingest": {"settings": {"ingest_max_body_bytes": 12}}}, check=False)
    assert too_small.returncode != 0
    assert "/ingest/settings/ingest_max_body_bytes" in too_small.stderr and "1,024" in too_small.stderr
    unknown = render_with("siem", {"sinks": {"settings": {"ingest_tokens": "x"}}}, check=False)
    assert unknown.returncode != 0 and "'ingest_tokens' not allowed" in unknown.stderr
    weakened = render_with("siem", {"containerSecurityContext": {"readOnlyRootFilesystem": False}}, check=False)
    assert weakened.returncode != 0 and "readOnlyRootFilesystem" in weakened.stderr


def test_a_missing_secret_value_fails_with_its_name(render_with: Callable[..., Rendered]) -> None:
    """A secret setting the chart may not generate and no value gives fails the render, naming it."""
    result = render_with("siem", {"sinks": {"secretSettings": ["loki_password"]}}, check=False)
    assert result.returncode != 0 and "sinks.secretSettings lists loki_password" in result.stderr


def test_the_committed_schema_is_valid_json_schema() -> None:
    """Both values.schema.json files are valid JSON Schema 2020-12 documents."""
    from jsonschema import Draft202012Validator

    for chart in CHART_COMPONENTS:
        Draft202012Validator.check_schema(json.loads(schema_path(chart).read_text()))
