"""Settings from `SIEM_*` variables: parsing, `_FILE` secrets, masking, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.correlator.settings import CorrelatorSettings
from services.ingest.settings import IngestSettings
from services.shared.errors import ConfigError
from services.shared.settings import CommonSettings


def test_defaults_without_any_variable() -> None:
    """With no SIEM_ variable, the documented defaults apply (loopback, in-memory bus)."""
    settings = CommonSettings.load()
    assert (settings.host, settings.kafka_bootstrap, settings.log_level) == ("127.0.0.1", None, "info")


def test_variables_are_parsed_into_typed_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """SIEM_* variables are read and converted to the field's type."""
    monkeypatch.setenv("SIEM_KAFKA_BOOTSTRAP", "broker:9092")
    monkeypatch.setenv("SIEM_KAFKA_PARTITIONS", "6")
    monkeypatch.setenv("SIEM_LOG_LEVEL", "debug")
    monkeypatch.setenv("SIEM_VAR_DIR", "/data/siem")
    settings = CommonSettings.load()
    assert settings.kafka_bootstrap == "broker:9092"
    assert settings.kafka_partitions == 6
    assert settings.log_level == "debug"
    assert settings.var_dir == Path("/data/siem")


def test_file_variable_is_read_and_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """SIEM_X_FILE gives X the file's stripped content, even when SIEM_X is also set."""
    secret_file = tmp_path / "client-id"
    secret_file.write_text("from-file\n")
    monkeypatch.setenv("SIEM_KAFKA_CLIENT_ID", "from-env")
    monkeypatch.setenv("SIEM_KAFKA_CLIENT_ID_FILE", str(secret_file))
    assert CommonSettings.load().kafka_client_id == "from-file"


def test_token_file_gives_the_ingest_tokens(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """SIEM_INGEST_TOKENS_FILE (the way Kubernetes mounts a secret) provides the comma-separated tokens."""
    token_file = tmp_path / "tokens"
    token_file.write_text("tok-a,tok-b\n")
    monkeypatch.setenv("SIEM_INGEST_TOKENS_FILE", str(token_file))
    settings = IngestSettings.load()
    assert [t.get_secret_value() for t in settings.ingest_tokens] == ["tok-a", "tok-b"]


def test_unreadable_file_raises_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A _FILE variable pointing at a file that cannot be read is a ConfigError naming that variable."""
    monkeypatch.setenv("SIEM_KAFKA_CLIENT_ID_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError) as caught:
        CommonSettings.load()
    assert caught.value.key == "SIEM_KAFKA_CLIENT_ID_FILE"


def test_token_list_is_split_on_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    """SIEM_INGEST_TOKENS is a comma-separated list; blanks around and empty parts are dropped."""
    monkeypatch.setenv("SIEM_INGEST_TOKENS", "tok-a, tok-b,,")
    settings = IngestSettings.load()
    assert [t.get_secret_value() for t in settings.ingest_tokens] == ["tok-a", "tok-b"]


def test_rules_dirs_are_split_on_colons(monkeypatch: pytest.MonkeyPatch) -> None:
    """SIEM_RULES_DIRS is a colon-separated list of folders."""
    monkeypatch.setenv("SIEM_RULES_DIRS", "/etc/siem/rules:rules/local")
    assert CorrelatorSettings.load().rules_dirs == [Path("/etc/siem/rules"), Path("rules/local")]


def test_secrets_never_show_in_repr_or_str(monkeypatch: pytest.MonkeyPatch) -> None:
    """The token values appear neither in repr() nor in str() of the settings."""
    monkeypatch.setenv("SIEM_INGEST_TOKENS", "s3cret-one,s3cret-two")
    settings = IngestSettings.load()
    assert len(settings.ingest_tokens) == 2
    for text in (repr(settings), str(settings)):
        assert "s3cret" not in text


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SIEM_KAFKA_PARTITIONS", "0"),
        ("SIEM_KAFKA_PARTITIONS", "many"),
        ("SIEM_LOG_LEVEL", "loud"),
        ("SIEM_MEMORY_BUS_CAPACITY", "-1"),
    ],
)
def test_invalid_value_raises_config_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """An invalid value makes load() raise a ConfigError whose key is the SIEM_ variable."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        CommonSettings.load()
    assert caught.value.key == variable
    assert variable in str(caught.value)


def test_invalid_ingest_value_names_the_ingest_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A service's own setting is named the same way (SIEM_INGEST_PORT out of range)."""
    monkeypatch.setenv("SIEM_INGEST_PORT", "70000")
    with pytest.raises(ConfigError) as caught:
        IngestSettings.load()
    assert caught.value.key == "SIEM_INGEST_PORT"


def test_open_listener_without_tokens_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Listening on 0.0.0.0 with no token and no explicit opt-in is a ConfigError naming SIEM_INGEST_TOKENS."""
    monkeypatch.setenv("SIEM_HOST", "0.0.0.0")
    with pytest.raises(ConfigError) as caught:
        IngestSettings.load()
    assert caught.value.key == "SIEM_INGEST_TOKENS"


def test_open_listener_with_a_token_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Listening on 0.0.0.0 is fine once a token is configured."""
    monkeypatch.setenv("SIEM_HOST", "0.0.0.0")
    monkeypatch.setenv("SIEM_INGEST_TOKENS", "tok")
    assert IngestSettings.load().host == "0.0.0.0"


def test_open_listener_with_explicit_opt_in_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    """SIEM_INGEST_ALLOW_UNAUTHENTICATED=true allows a non-loopback listener without tokens."""
    monkeypatch.setenv("SIEM_HOST", "0.0.0.0")
    monkeypatch.setenv("SIEM_INGEST_ALLOW_UNAUTHENTICATED", "true")
    settings = IngestSettings.load()
    assert settings.ingest_allow_unauthenticated is True
    assert settings.ingest_tokens == []


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_loopback_listener_needs_no_token(monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    """A loopback-only listener may run without tokens."""
    monkeypatch.setenv("SIEM_HOST", host)
    assert IngestSettings.load().ingest_tokens == []
