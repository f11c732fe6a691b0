"""The services' own logs reach the real Loki through python-logging-loki when SIEM_LOKI_URL is set, redacted."""

from __future__ import annotations

import orjson
import pytest
import structlog
from pydantic import SecretStr

from services.shared.logging import LokiLogShipper, configure_logging
from services.shared.settings import CommonSettings
from tests.infra import wait_until
from tests.loki.gateway import LokiGateway
from tests.loki.loki_service import LokiService, query_range


def test_a_log_line_arrives_in_loki_without_its_secrets(
    loki: LokiGateway, tenant: str, restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A logged event shows up under {app="siem", component=…} in the tenant, with secret fields redacted."""
    configure_logging(CommonSettings(loki_url=loki.url, loki_tenant=tenant, log_format="json"), "siem-sinks")
    structlog.get_logger().warning("sink_retry", sink="loki", token="tok-never-shown", reason="Loki answered 500")
    [entry] = wait_until(
        lambda: query_range(loki.loki_url, tenant, '{app="siem", component="siem-sinks"}'), 30, "the log line in Loki"
    )
    document = orjson.loads(entry.line)
    assert (document["event"], document["sink"], document["token"]) == ("sink_retry", "loki", "[redacted]")
    assert entry.labels["severity"] == "warning"
    assert "tok-never-shown" not in entry.line
    assert "sink_retry" in capsys.readouterr().out  # stdout keeps its copy


def test_a_bearer_token_and_tenant_reach_a_gateway_that_checks_them(
    loki_service: LokiService, tenant: str, restore_logging: None
) -> None:
    """With SIEM_LOKI_BEARER_TOKEN the logging handler authenticates like the sink does."""
    gateway = LokiGateway(loki_service.url, bearer="tok-logs").start()
    try:
        settings = CommonSettings(loki_url=gateway.url, loki_tenant=tenant, loki_bearer_token=SecretStr("tok-logs"))
        configure_logging(settings.model_copy(update={"log_format": "json"}), "siem-ingest")
        structlog.get_logger().info("service_started")
        wait_until(lambda: query_range(gateway.loki_url, tenant, '{component="siem-ingest"}'), 30, "the log line")
    finally:
        gateway.stop()


def test_service_logs_can_be_kept_out_of_loki(loki: LokiGateway, tenant: str, restore_logging: None) -> None:
    """With SIEM_LOKI_SERVICE_LOGS=false nothing is pushed, even with SIEM_LOKI_URL set."""
    configure_logging(CommonSettings(loki_url=loki.url, loki_tenant=tenant, loki_service_logs=False), "siem-sinks")
    assert not any(isinstance(p, LokiLogShipper) for p in structlog.get_config()["processors"])
