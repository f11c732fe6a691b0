"""Settings common to every service, read once at start-up from `SIEM_*` environment variables.

Any setting can also be given as a file through `SIEM_<NAME>_FILE` (the way secrets are
mounted in Kubernetes); the file wins over the plain variable. Secrets are `SecretStr`,
so they never show in a repr or a log line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from services.shared.errors import ConfigError

ENV_PREFIX = "SIEM_"


def _separator(field_name: str) -> str:
    return ":" if field_name.endswith("dirs") else ","


def _split_list(field_name: str, value: str) -> list[str]:
    """Folders are colon-separated like PATH; every other list is comma-separated."""
    return [part.strip() for part in value.split(_separator(field_name)) if part.strip()]


class _FileSettingsSource(PydanticBaseSettingsSource):
    """Reads `SIEM_<NAME>_FILE` for every field: the file's content, stripped, is the value."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        variable = f"{ENV_PREFIX}{field_name.upper()}_FILE"
        path = os.environ.get(variable)
        if not path:
            return None, field_name, False
        try:
            content = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(variable, f"cannot read {path}: {exc.strerror}") from exc
        if issubclass(self.settings_cls, CommonSettings) and field_name in self.settings_cls.list_fields():
            # A mounted secret holds one item per line, or the same separated form as the variable.
            return _split_list(field_name, content.replace("\n", _separator(field_name))), field_name, False
        return content, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, name)
            if value is not None:
                values[key] = value
        return values


class _ColonListEnvSource(EnvSettingsSource):
    """Lists in the environment are plain separated strings, not JSON (`SIEM_RULES_DIRS=a:b`)."""

    def prepare_field_value(self, field_name: str, field: FieldInfo, value: Any, value_is_complex: bool) -> Any:
        if (
            isinstance(value, str)
            and issubclass(self.settings_cls, CommonSettings)
            and field_name in self.settings_cls.list_fields()
        ):
            return _split_list(field_name, value)
        return super().prepare_field_value(field_name, field, value, value_is_complex)


class CommonSettings(BaseSettings):
    """What every service needs: where the bus is, how to log, where to listen."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    host: str = Field("127.0.0.1", description="Address every HTTP listener binds to.")
    kafka_bootstrap: str | None = Field(None, description="Kafka bootstrap servers; unset = in-memory bus.")
    kafka_partitions: int = Field(3, ge=1, description="Partitions of each topic created at start-up.")
    kafka_replication_factor: int = Field(1, ge=1)
    kafka_client_id: str = "siem"
    kafka_topic_prefix: str = Field(
        "", description="Prepended to every topic and consumer group, so pipelines can share a cluster."
    )
    kafka_send_timeout_seconds: float = Field(120.0, gt=0, description="How long a produce may retry.")
    memory_bus_capacity: int = Field(10_000, ge=1, description="Unconsumed messages per topic in memory.")
    consumer_max_records: int = Field(500, ge=1, le=10_000, description="Messages taken per batch.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    var_dir: Path = Field(Path("var"), description="Where file sinks and the dead-letter file write.")
    # Loki: the events sink and, through python-logging-loki, the services' own logs.
    loki_url: str | None = Field(
        None, description="Loki base URL (http://loki:3100); set, enriched events go there instead of a file."
    )
    loki_tenant: str | None = Field(None, description="X-Scope-OrgID sent with every push (multi-tenant Loki).")
    loki_username: str | None = Field(None, description="Basic-auth user for Loki, with loki_password.")
    loki_password: SecretStr | None = Field(None, description="Basic-auth password for Loki.")
    loki_bearer_token: SecretStr | None = Field(None, description="Bearer token for Loki (instead of basic auth).")
    loki_service_logs: bool = Field(True, description="With loki_url set, also push the services' own logs to Loki.")

    @classmethod
    def list_fields(cls) -> set[str]:
        return {name for name, f in cls.model_fields.items() if getattr(f.annotation, "__origin__", None) is list}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, _FileSettingsSource(settings_cls), _ColonListEnvSource(settings_cls))

    @classmethod
    def load(cls, **overrides: Any) -> Any:
        """Build the settings, turning pydantic's error into a ConfigError that names the variable."""
        try:
            return cls(**overrides)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ENV_PREFIX + "_".join(str(part) for part in first["loc"]).upper()
            raise ConfigError(key, first["msg"]) from None


def secret_values(secrets: list[SecretStr]) -> list[bytes]:
    """The raw bytes of a list of secrets, for constant-time comparison."""
    return [s.get_secret_value().encode() for s in secrets if s.get_secret_value()]
