"""The shipped Alertmanager example (docs/sinks/alertmanager.example.yml): valid, routes by severity, inhibits."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
import yaml

from services.correlator.sinks.alertmanager import AlertmanagerSink
from services.correlator.sinks.settings import SinksSettings
from services.shared.alert import Alert, RuleRef, alert_id
from tests.infra import ROOT, ServiceDidNotStart, alerts_in_alertmanager, free_port, http_json, wait_until

EXAMPLE = ROOT / "docs" / "sinks" / "alertmanager.example.yml"


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} not found: `make test-services` installs Debian's prometheus-alertmanager"
    return path


def test_amtool_accepts_the_example() -> None:
    """`amtool check-config` finds the route, the inhibit rules and the receivers valid."""
    result = subprocess.run([_tool("amtool"), "check-config", str(EXAMPLE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout and "6 inhibit rules" in result.stdout


@pytest.mark.parametrize(
    ("severity", "receiver"),
    [
        ("critical", "siem-pager"),
        ("high", "siem-pager"),
        ("medium", "siem-chat"),
        ("low", "siem-tickets"),
        ("info", "siem-tickets"),
    ],
)
def test_alerts_route_by_severity(severity: str, receiver: str) -> None:
    """`amtool config routes test` sends each severity the sink emits to its receiver."""
    result = subprocess.run(
        [_tool("amtool"), "config", "routes", "test", f"--config.file={EXAMPLE}", f"severity={severity}", "rule_id=r"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == receiver


@pytest.fixture
def example_alertmanager(tmp_path: Path) -> Iterator[str]:
    """A real Alertmanager running the example, its receivers pointed at a closed local port (no traffic out)."""
    config = yaml.safe_load(EXAMPLE.read_text())
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = f"http://127.0.0.1:{free_port()}/"
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (tmp_path / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [
            _tool("prometheus-alertmanager"),
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until(lambda: http_json("GET", url + "/api/v2/status")[0] == 200, 30, "Alertmanager with the example")
        except AssertionError as exc:
            raise ServiceDidNotStart(f"{exc}\n{(tmp_path / 'alertmanager.log').read_text()[-3000:]}") from None
        yield url
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def _alert(rule_id: str, level: str, source_ip: str) -> Alert:
    now = datetime.now(UTC)
    return Alert(
        id=alert_id(rule_id, {"source.ip": source_ip}, [source_ip]),
        rule=RuleRef(id=rule_id, title=f"{level} rule", level=level),
        group={"source.ip": source_ip},
        count=1,
        first_seen=now,
        last_seen=now,
        event_ids=["e"],
        hunt='{module="system"}',
        severity=level,
    )


async def test_a_critical_alert_inhibits_lower_ones_about_the_same_address(example_alertmanager: str) -> None:
    """Under the example, a critical alert on 203.0.113.7 suppresses a medium one on it, not on another address."""
    critical, medium = str(uuid.uuid4()), str(uuid.uuid4())
    alerts = [_alert(critical, "critical", "203.0.113.7"), _alert(medium, "medium", "203.0.113.7")]
    alerts.append(_alert(medium, "medium", "198.51.100.9"))
    async with aiohttp.ClientSession() as session:
        await AlertmanagerSink(SinksSettings(alertmanager_url=[example_alertmanager]), session).send(alerts)

    def states() -> dict[str, str] | None:
        held = alerts_in_alertmanager(example_alertmanager, medium)
        found = {str(a["labels"]["source_ip"]): str(a["status"]["state"]) for a in held}  # type: ignore[index]
        return found if found.get("203.0.113.7") == "suppressed" else None

    found = await asyncio.to_thread(wait_until, states, 30, "the inhibition to apply")
    assert found == {"203.0.113.7": "suppressed", "198.51.100.9": "active"}
    [source] = alerts_in_alertmanager(example_alertmanager, critical)
    assert source["status"]["state"] == "active"  # type: ignore[index]
