"""The settings part of the charts' values.schema.json, generated from the services' settings classes.

Helm values mirror the settings one to one: `<component>.settings.<name>` (or the top-level `settings.<name>`
for every component) becomes the variable `SIEM_<NAME>`, and a secret setting listed in
`<component>.secretSettings` becomes `SIEM_<NAME>_FILE`, a file mounted from the release's Secret. The schema's
`$defs` that describe those keys are written here from each class's `model_fields`, so a value the service
would refuse (unknown key, wrong type, out of range) fails `helm install` instead of the pod.

`python -m services.deploy.values_schema` rewrites the `$defs` of both charts; the tests fail while they are stale.
"""

from __future__ import annotations

import json
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import to_jsonable_python

from services.correlator.settings import CorrelatorSettings
from services.correlator.sinks.settings import SinksSettings
from services.flask_app.settings import FlaskAppSettings
from services.ingest.settings import IngestSettings
from services.shared.settings import CommonSettings
from services.webhook.settings import WebhookSettings

CHARTS = Path(__file__).resolve().parents[2] / "charts"
# The chart sets these itself: a pod listens on every interface, or nothing outside it can reach the service.
CHART_MANAGED = frozenset({"host"})
# JSON Schema keywords kept from pydantic's schema of a field (title, format and writeOnly say nothing to Helm).
_KEPT = ("type", "anyOf", "enum", "items", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "default")


@dataclass(frozen=True)
class Component:
    """One Deployment of a chart and the settings class its container reads."""

    key: str  # the values key: `ingest`, `flaskApp`
    settings: type[CommonSettings]


SIEM_COMPONENTS = (
    Component("ingest", IngestSettings),
    Component("webhook", WebhookSettings),
    Component("correlator", CorrelatorSettings),
    Component("sinks", SinksSettings),
)
FLASK_APP_COMPONENTS = (Component("flaskApp", FlaskAppSettings),)
CHART_COMPONENTS = {"siem": SIEM_COMPONENTS, "flask-app": FLASK_APP_COMPONENTS}


def is_secret(field: FieldInfo) -> bool:
    """Whether the field holds a secret (`SecretStr`, optional or in a list): it only comes from a file."""

    def walk(annotation: Any) -> bool:
        if annotation is SecretStr:
            return True
        return any(walk(arg) for arg in typing.get_args(annotation))

    return walk(field.annotation)


def plain_fields(settings: type[CommonSettings]) -> list[str]:
    """The settings a chart value sets directly (`SIEM_<NAME>`)."""
    return [name for name, f in settings.model_fields.items() if not is_secret(f) and name not in CHART_MANAGED]


def secret_fields(settings: type[CommonSettings]) -> list[str]:
    """The settings a chart mounts from the release's Secret (`SIEM_<NAME>_FILE`)."""
    return [name for name, f in settings.model_fields.items() if is_secret(f)]


def env_name(field: str, *, file: bool = False) -> str:
    return f"SIEM_{field.upper()}" + ("_FILE" if file else "")


def _field_schema(settings: type[CommonSettings], name: str) -> dict[str, Any]:
    full = settings.model_json_schema()["properties"][name]
    schema = {key: _clean(full[key]) for key in _KEPT if key in full}
    field = settings.model_fields[name]
    if "default" not in schema and field.default_factory is not None:
        schema["default"] = to_jsonable_python(field.get_default(call_default_factory=True))
    description = field.description
    schema["description"] = f"{env_name(name)}: {description}" if description else env_name(name)
    return schema


def _clean(value: Any) -> Any:
    """Strip pydantic's annotations (title, format, writeOnly) from nested schemas too."""
    if isinstance(value, dict):
        return {key: _clean(inner) for key, inner in value.items() if key in _KEPT}
    if isinstance(value, list):
        return [_clean(inner) for inner in value]
    return value


def settings_schema(settings: type[CommonSettings], title: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": f"{title} settings ({settings.__module__}.{settings.__name__}): key = setting, "
        "value = what SIEM_<KEY> would hold (lists as YAML lists).",
        "additionalProperties": False,
        "properties": {name: _field_schema(settings, name) for name in plain_fields(settings)},
    }


def secret_settings_schema(settings: type[CommonSettings]) -> dict[str, Any]:
    return {
        "type": "array",
        "description": "Secret settings this component reads from the release's Secret (key = setting name), "
        "mounted as files and passed as SIEM_<KEY>_FILE.",
        "uniqueItems": True,
        "items": {"enum": secret_fields(settings)},
    }


def generated_defs(chart: str) -> dict[str, Any]:
    """The `$defs` of one chart's values.schema.json that come from the settings classes."""
    defs: dict[str, Any] = {}
    if len(CHART_COMPONENTS[chart]) > 1:  # several Deployments share the top-level `settings`
        defs["commonSettings"] = settings_schema(CommonSettings, "Every component's")
    for component in CHART_COMPONENTS[chart]:
        defs[f"{component.key}Settings"] = settings_schema(component.settings, component.key)
        defs[f"{component.key}SecretSettings"] = secret_settings_schema(component.settings)
    return defs


def schema_path(chart: str) -> Path:
    return CHARTS / chart / "values.schema.json"


def stale_defs(chart: str) -> list[str]:
    """Names of the generated `$defs` that differ from the chart's file (empty: in sync)."""
    current = json.loads(schema_path(chart).read_text(encoding="utf-8")).get("$defs", {})
    return sorted(name for name, schema in generated_defs(chart).items() if current.get(name) != schema)


def write(chart: str) -> None:
    """Replace the generated `$defs` in the chart's schema, keeping the hand-written rest as it is."""
    path = schema_path(chart)
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema.setdefault("$defs", {}).update(generated_defs(chart))
    path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main() -> int:
    for chart in CHART_COMPONENTS:
        write(chart)
        print(f"wrote {schema_path(chart)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
