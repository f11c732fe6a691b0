"""Logging: secrets are blanked by key, and a configured JSON logger never prints their values."""

from __future__ import annotations

import json

import pytest
import structlog
from structlog.testing import capture_logs

from services.shared.logging import REDACTED, configure_logging, redact_secrets
from services.shared.settings import CommonSettings


@pytest.mark.parametrize(
    "key",
    [
        "token",
        "ingest_tokens",
        "password",
        "db_passwd",
        "Authorization",
        "signature",
        "x_hub_signature_256",
        "api_key",
        "cookie",
        "client_secret",
    ],
)
def test_secret_keys_are_blanked(key: str) -> None:
    """A field whose name says it holds a secret has its value replaced by the redaction marker."""
    assert redact_secrets(None, "info", {"event": "x", key: "hunter2"})[key] == REDACTED


def test_other_keys_are_left_alone() -> None:
    """Fields without a secret-sounding name keep their values."""
    fields = {"event": "request_done", "user": "alice", "status": 401, "path": "/v1/events", "duration_ms": 3}
    assert redact_secrets(None, "info", dict(fields)) == fields


def test_redaction_applies_in_a_processor_chain() -> None:
    """Run as a processor, redact_secrets blanks the secret before later processors see the entry."""
    with capture_logs(processors=[redact_secrets]) as entries:
        structlog.get_logger().warning("auth_failed", authorization="Bearer abc", remote="203.0.113.7")
    assert entries == [
        {"event": "auth_failed", "authorization": REDACTED, "remote": "203.0.113.7", "log_level": "warning"}
    ]


def test_json_logger_prints_no_secret_value(capsys: pytest.CaptureFixture[str], restore_logging: None) -> None:
    """With log_format=json, a line logged with secrets is valid JSON that contains none of their values."""
    configure_logging(CommonSettings(log_format="json", log_level="info"), service="ingest")
    structlog.get_logger().info(
        "login", password="hunter2-pw", token="tok-3f9a", signature="sha256=deadbeef", user="alice"
    )
    out = capsys.readouterr().out
    for secret in ("hunter2-pw", "tok-3f9a", "deadbeef"):
        assert secret not in out
    line = json.loads(out.strip().splitlines()[-1])
    assert line["event"] == "login"
    assert line["user"] == "alice"
    assert line["service"] == "ingest"
    assert line["password"] == line["token"] == line["signature"] == REDACTED


def test_json_logger_respects_the_level(capsys: pytest.CaptureFixture[str], restore_logging: None) -> None:
    """Below the configured level nothing is printed."""
    configure_logging(CommonSettings(log_format="json", log_level="warning"), service="ingest")
    structlog.get_logger().info("chatty")
    structlog.get_logger().warning("kept")
    out = capsys.readouterr().out
    assert "chatty" not in out
    assert json.loads(out.strip())["event"] == "kept"


def test_json_logger_prints_no_secret_nested_in_a_dict(
    capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    """A secret inside a nested field (request headers logged as a dict) is not printed either."""
    configure_logging(CommonSettings(log_format="json"), service="webhook")
    structlog.get_logger().warning("request_refused", headers={"Authorization": "Bearer tok-nested-77"})
    assert "tok-nested-77" not in capsys.readouterr().out


def test_json_logger_writes_values_orjson_cannot(capsys: pytest.CaptureFixture[str], restore_logging: None) -> None:
    """A log call never fails on its values: an int past 64 bits, an object, int keys all make a JSON line."""
    configure_logging(CommonSettings(log_format="json"), service="ingest")

    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    structlog.get_logger().info("odd", huge=2**70, thing=Opaque(), by_code={401: "unauthorized"})
    structlog.get_logger().info("plain", count=3)
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert (first["huge"], first["thing"], first["by_code"]) == (2**70, "<opaque>", {"401": "unauthorized"})
    assert second["count"] == 3 and second["service"] == "ingest"
