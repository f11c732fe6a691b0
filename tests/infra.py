"""Starts the real services integration tests talk to: a Kafka broker and Alertmanager, on 127.0.0.1.

A service that does not start raises ServiceDidNotStart, which fails the test (never a skip).
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"

T = TypeVar("T")


class ServiceDidNotStart(RuntimeError):
    """A real service a test needs could not be started: the test fails with the service's log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


KAFKA_CONTROLLER_PORT_OFFSET = 100  # scripts/kafka.sh: the controller listens on PORT + 100


def free_kafka_port() -> int:
    """A free port whose controller companion is free too."""
    for _ in range(50):
        port = free_port()
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + KAFKA_CONTROLLER_PORT_OFFSET))
            return port
        except OSError:
            continue
    raise RuntimeError("no free pair of ports")


def wait_until(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.2) -> T:
    """Poll `check` until it returns something truthy; fail the test naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # the service may not answer yet
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_error!r})")


@dataclass
class ScriptService:
    """A service run by one of scripts/*.sh: `start DATA_DIR PORT`, `stop DATA_DIR`."""

    script: str
    data_dir: Path
    port: int

    def start(self) -> None:
        result = subprocess.run(
            [str(SCRIPTS / self.script), "start", str(self.data_dir), str(self.port)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            raise ServiceDidNotStart(
                f"{self.script} start failed (exit {result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )

    def stop(self) -> None:
        subprocess.run([str(SCRIPTS / self.script), "stop", str(self.data_dir)], capture_output=True, timeout=120)


class KafkaBroker(ScriptService):
    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


class Alertmanager(ScriptService):
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def http_json(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, object]:
    """One HTTP request to a local service; returns the status and the decoded JSON body."""
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def alerts_in_alertmanager(am_url: str, rule_id: str) -> list[dict[str, object]]:
    """The alerts Alertmanager holds for one rule, read back through its API v2."""
    import urllib.parse

    query = urllib.parse.urlencode({"filter": f'rule_id="{rule_id}"'})
    status, alerts = http_json("GET", f"{am_url}/api/v2/alerts?{query}")
    assert status == 200
    assert isinstance(alerts, list)
    return alerts


class SiemProcess:
    """`siem run STAGE` as a child process with its own ports, for end-to-end tests."""

    def __init__(self, stage: str, env: dict[str, str], log_path: Path) -> None:
        import os

        self.stage = stage
        self.log_path = log_path
        self.ports = {name: free_port() for name in ("ingest", "syslog", "webhook", "correlator", "sinks")}
        self.env = {
            **os.environ,
            "SIEM_INGEST_PORT": str(self.ports["ingest"]),
            "SIEM_WEBHOOK_PORT": str(self.ports["webhook"]),
            "SIEM_INGEST_SYSLOG_PORT": str(self.ports["syslog"]),
            "SIEM_CORRELATOR_PORT": str(self.ports["correlator"]),
            "SIEM_SINKS_PORT": str(self.ports["sinks"]),
            "SIEM_LOG_FORMAT": "json",
            **env,
        }
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "siem"), "run", stage],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=log_path.parent,
        )

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def wait_ready(self, service: str, timeout: float = 60) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise ServiceDidNotStart(f"siem run {self.stage} exited {self.process.returncode}:\n{self.log()}")
            return http_json("GET", self.url(service) + "/readyz")[0] == 200

        try:
            wait_until(ready, timeout, f"siem run {self.stage} to be ready")
        except AssertionError as exc:
            raise ServiceDidNotStart(f"{exc}\n{self.log()}") from None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM, and the exit code once it has drained and stopped."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode
