"""Every service starts and serves readiness on a read-only root filesystem, as its image and pod run it.

No container runtime here, so the real processes run in a private mount namespace (util-linux `unshare`, as root)
where `/` is remounted read-only and only /tmp stays writable: the counterpart of the images' read-only root with
a tmpfs or emptyDir for /tmp and the data directory (SIEM_VAR_DIR, the app's database), which live under /tmp here.
The pipeline stages talk to the session's real Kafka broker, on 127.0.0.1 like every test service.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from dockerfile_parse import DockerfileParser

from tests.infra import ROOT, KafkaBroker, ServiceDidNotStart, free_port, http_json, wait_until

pytestmark = pytest.mark.kafka
BIN = ROOT / ".venv" / "bin"
# In the new namespace: keep /tmp writable (a mount of its own), make everything else read-only, run the service.
READ_ONLY_ROOT = 'mount --bind /tmp /tmp && mount -o remount,bind,ro / && exec "$@"'


class ReadOnlyProcess:
    """A command run with the root filesystem read-only; its output goes to a log file under /tmp."""

    def __init__(self, command: list[str], env: dict[str, str], workdir: Path) -> None:
        self.log_path = workdir / "service.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", READ_ONLY_ROOT, "sh", *command],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **env},
            cwd=workdir,
        )

    def wait_ready(self, url: str, timeout: float = 90) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise ServiceDidNotStart(f"exited {self.process.returncode}:\n{self.log()}")
            return http_json("GET", url)[0] == 200

        try:
            wait_until(ready, timeout, url)
        except AssertionError as exc:
            raise ServiceDidNotStart(f"{exc}\n{self.log()}") from None

    def root_is_read_only(self) -> bool:
        """Whether `/` is mounted read-only where the service runs (its mount namespace, seen through /proc)."""
        for line in Path(f"/proc/{self.process.pid}/mountinfo").read_text().splitlines():
            fields = line.split()
            if fields[4] == "/":
                return "ro" in fields[5].split(",")
        raise AssertionError("no root mount")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    for folder in ("var", "ingest", "correlator", "sinks"):
        (tmp_path / folder).mkdir()
    return tmp_path


@pytest.fixture
def running() -> Iterator[list[ReadOnlyProcess]]:
    started: list[ReadOnlyProcess] = []
    yield started
    for process in started:
        process.stop()


def _run_healthcheck(image: str, env: dict[str, str]) -> int:
    """Run the image's HEALTHCHECK command (its exec form, from the Dockerfile) on this machine; its exit code."""
    (health,) = [
        i["value"]
        for i in DockerfileParser(str(ROOT / "docker" / image / "Dockerfile")).structure
        if i["instruction"] == "HEALTHCHECK"
    ]
    command = json.loads(health[health.index("CMD") + 3 :])
    assert command[0] == "python"
    return subprocess.run([str(BIN / "python"), *command[1:]], env={**os.environ, **env}, timeout=30).returncode


def _stage_env(stage: str, kafka: KafkaBroker, workdir: Path, port: int) -> dict[str, str]:
    env = {
        "SIEM_HOST": "127.0.0.1",
        "SIEM_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "SIEM_KAFKA_TOPIC_PREFIX": f"ro-{uuid.uuid4().hex[:8]}.",
        "SIEM_VAR_DIR": str(workdir / "var"),
        "SIEM_LOG_FORMAT": "json",
        f"SIEM_{stage.upper()}_PORT": str(port),
    }
    if stage == "ingest":
        env |= {"SIEM_INGEST_TOKENS": "read-only-test", "SIEM_INGEST_SYSLOG_PORT": str(free_port())}
    if stage == "webhook":
        env |= {"SIEM_WEBHOOK_PROVIDERS": "github", "SIEM_WEBHOOK_GITHUB_SECRETS": "read-only-test"}
    if stage == "correlator":
        env |= {"SIEM_RULES_DIRS": str(ROOT / "rules")}
    return env


@pytest.mark.parametrize("stage", ["ingest", "webhook", "correlator", "sinks"])
def test_stage_runs_on_a_read_only_root(
    kafka: KafkaBroker, workdir: Path, running: list[ReadOnlyProcess], stage: str
) -> None:
    """`siem run STAGE` becomes ready with only /tmp writable, its image's HEALTHCHECK command passes against it (and
    fails once it is gone), and it stops cleanly (exit 0) on SIGTERM."""
    port = free_port()
    service = ReadOnlyProcess([str(BIN / "siem"), "run", stage], _stage_env(stage, kafka, workdir, port), workdir)
    running.append(service)
    service.wait_ready(f"http://127.0.0.1:{port}/readyz")
    assert service.root_is_read_only()
    port_variable = {f"SIEM_{stage.upper()}_PORT": str(port)}
    assert _run_healthcheck(stage, port_variable) == 0
    assert service.stop() == 0, service.log()
    assert _run_healthcheck(stage, port_variable) != 0


def test_flask_app_runs_on_a_read_only_root(workdir: Path, running: list[ReadOnlyProcess]) -> None:
    """gunicorn with the app's config serves /ready with only /tmp writable (database and metrics files there)."""
    port = free_port()
    env = {
        "SIEM_HOST": "127.0.0.1",
        "SIEM_FLASK_APP_PORT": str(port),
        "SIEM_FLASK_APP_DB_PATH": str(workdir / "var" / "notes.sqlite3"),
        "SIEM_FLASK_APP_WORKERS": "1",
    }
    config = ROOT / "services" / "flask_app" / "gunicorn.conf.py"
    service = ReadOnlyProcess([str(BIN / "gunicorn"), "--config", str(config)], env, workdir)
    running.append(service)
    service.wait_ready(f"http://127.0.0.1:{port}/ready")
    assert service.root_is_read_only()
    assert _run_healthcheck("flask-app", {"SIEM_FLASK_APP_PORT": str(port)}) == 0


def test_the_pipeline_delivers_on_a_read_only_root(
    kafka: KafkaBroker, workdir: Path, running: list[ReadOnlyProcess]
) -> None:
    """ingest, correlator and sinks, each on a read-only root, carry the pipeline's test event to an alert in the
    sinks' JSON-lines file under SIEM_VAR_DIR: the one directory they write."""
    prefix = f"ro-{uuid.uuid4().hex[:8]}."
    ports = {}
    for stage in ("ingest", "correlator", "sinks"):
        ports[stage] = free_port()
        env = _stage_env(stage, kafka, workdir, ports[stage]) | {"SIEM_KAFKA_TOPIC_PREFIX": prefix}
        running.append(ReadOnlyProcess([str(BIN / "siem"), "run", stage], env, workdir / stage))
    for process, stage in zip(running, ports, strict=True):
        process.wait_ready(f"http://127.0.0.1:{ports[stage]}/readyz")
    status, _ = http_json(
        "POST",
        f"http://127.0.0.1:{ports['ingest']}/v1/events",
        b'{"event": {"action": "siem-test"}}',
        {"Authorization": "Bearer read-only-test", "Content-Type": "application/json"},
    )
    assert status == 202
    rule_id = yaml.safe_load((ROOT / "rules" / "siem" / "siem_pipeline_test_event.yml").read_text())["id"]
    alerts = workdir / "var" / "alerts.jsonl"

    def delivered() -> bool:
        lines = alerts.read_text().splitlines() if alerts.is_file() else []
        return any(json.loads(line)["rule"]["id"] == rule_id for line in lines)

    wait_until(delivered, 90, "the test event's alert in alerts.jsonl")
