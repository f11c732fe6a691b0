"""The pipeline under the end-to-end benchmark: its processes over the real services, what reached Loki and
Alertmanager (read back from the recorder's file), and how much CPU each process used."""

from __future__ import annotations

import os
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from benchmarks import recorder
from benchmarks.commands import ROOT, python
from benchmarks.context import Context
from benchmarks.profiles import EVENT_LOOP, attach
from benchmarks.rulesets import corpus_rules
from services.shared.loki.codec import decode_push
from tests.infra import free_port
from tests.loki.loki_service import BULK_TENANT

SIEM = str(Path(sys.executable).parent / "siem")
DRAIN_TIMEOUT = 120.0
# Ingest takes a saturation round's 30,000 events in about 4 s: sampling from 5 s on found it idle.
PROFILE_DELAY_SECONDS = 1.0
PROFILE_SECONDS = 8.0


@dataclass
class Pipeline:
    ingest: str
    sinks_metrics: str
    record_file: Path
    commands: list[str] = field(default_factory=list)
    pids: dict[str, int] = field(default_factory=dict)  # component -> pid, for CPU accounting and profiles
    profiles: list[str] = field(default_factory=list)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (/proc/PID/stat), 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pid_file(path: Path) -> int | None:
    """The pid a service's start script wrote, None when it is not (yet) there."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def start(ctx: Context) -> Pipeline:
    """Recorder, then `siem run ingest|correlator|sinks` over Kafka, Loki and Alertmanager, each ready."""
    stack = ctx.stack
    broker, loki, manager = stack.kafka(), stack.loki(), stack.alertmanager()
    record_file = ctx.work / "e2e-record.bin"
    loki_port, am_port = free_port(), free_port()
    command = python("benchmarks.recorder", "--loki", loki.url, "--alertmanager", manager.url)
    command += ["--loki-port", str(loki_port), "--am-port", str(am_port), "--out", str(record_file)]
    recorder_process = stack.spawn("recorder", command, {}, core=None, ready_url=f"http://127.0.0.1:{loki_port}/ready")
    ports = {name: free_port() for name in ("ingest", "correlator", "sinks")}
    env = {
        "SIEM_KAFKA_BOOTSTRAP": broker.bootstrap,
        "SIEM_KAFKA_TOPIC_PREFIX": "bench-e2e-",
        "SIEM_RULES_DIRS": f"{ROOT / 'rules'}:{ctx.rules(len(corpus_rules()))}",
        "SIEM_LOKI_URL": f"http://127.0.0.1:{loki_port}",
        "SIEM_LOKI_TENANT": BULK_TENANT,  # Loki's default 4 MB/s a tenant would be what is measured
        "SIEM_LOKI_SERVICE_LOGS": "false",
        "SIEM_ALERTMANAGER_URL": f"http://127.0.0.1:{am_port}",
        "SIEM_INGEST_RATE_LIMIT": "1000000000/second",
        "SIEM_INGEST_SYSLOG_ENABLED": "false",
        "SIEM_LOG_FORMAT": "json",
        "SIEM_VAR_DIR": str(ctx.work / "var"),
        "SIEM_INGEST_PORT": str(ports["ingest"]),
        "SIEM_CORRELATOR_PORT": str(ports["correlator"]),
        "SIEM_SINKS_PORT": str(ports["sinks"]),
    }
    pipeline = Pipeline(
        f"http://127.0.0.1:{ports['ingest']}/v1/events", f"http://127.0.0.1:{ports['sinks']}/metrics", record_file
    )
    for stage in ("ingest", "correlator", "sinks"):
        process = stack.spawn(
            f"siem-{stage}", [SIEM, "run", stage], env, core=None, ready_url=f"http://127.0.0.1:{ports[stage]}/readyz"
        )
        pipeline.pids[f"siem {stage}"] = process.pid
    pipeline.pids["recorder"] = recorder_process.pid
    for name, pid in (
        ("Kafka broker", pid_file(broker.data_dir / "kafka.pid")),
        ("Alertmanager", pid_file(manager.data_dir / "alertmanager.pid")),
        ("Loki", getattr(getattr(loki, "_process", None), "pid", None)),
    ):
        if pid is not None:
            pipeline.pids[name] = pid
    shared = {k: v for k, v in env.items() if not k.endswith("_PORT")}
    pipeline.commands.append(" ".join(f"{k}={v}" for k, v in shared.items()).replace(str(ctx.work) + "/", ""))
    return pipeline


def sent(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - loopback only
        text = answer.read().decode()
    sent = {}
    for line in text.splitlines():
        if line.startswith("siem_sink_sent_total{"):
            labels, _, value = line.rpartition(" ")
            sent[labels.split('sink="', 1)[1].split('"', 1)[0]] = float(value)
    return sent


def drain(pipeline: Pipeline, expected_loki: float) -> None:
    """Wait until Loki got everything and the alert count stopped moving for 3 s (or the timeout)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    last, steady_since = -1.0, time.monotonic()
    while time.monotonic() < deadline:
        counts = sent(pipeline.sinks_metrics)
        alerts = counts.get("alertmanager", 0.0)
        if alerts != last:
            last, steady_since = alerts, time.monotonic()
        if counts.get("loki", 0.0) >= expected_loki and time.monotonic() - steady_since > 3:
            return
        time.sleep(0.5)


@dataclass
class Delivered:
    loki: dict[str, float]  # event id -> first Loki 2xx
    alerts: dict[str, float]  # event id -> first Alertmanager 2xx of an alert listing it


def read_delivered(path: Path) -> Delivered:
    loki: dict[str, float] = {}
    alerts: dict[str, float] = {}
    for header, body in recorder.records(path):
        if header["kind"] == "loki":
            for stream in decode_push(body, header["type"], header["encoding"], 64 * 1024 * 1024):
                for entry in stream.entries:
                    event_id = entry.metadata.get("event_id")
                    if event_id is not None:
                        loki.setdefault(event_id, header["t"])
        else:
            for alert in orjson.loads(body):
                for event_id in alert.get("annotations", {}).get("event_ids", "").split(","):
                    if event_id:
                        alerts.setdefault(event_id, header["t"])
    return Delivered(loki, alerts)


def start_profiles(pipeline: Pipeline) -> list[threading.Thread]:
    """py-spy on each siem process for a while in the middle of the saturation phase, in the background."""

    def sample(name: str, pid: int) -> None:
        time.sleep(PROFILE_DELAY_SECONDS)
        profile = attach(pid, PROFILE_SECONDS, EVENT_LOOP)
        pipeline.profiles += profile.markdown(
            f"`{name}` during saturation — `py-spy record --native --pid PID --duration 8`"
        )

    threads = [
        threading.Thread(target=sample, args=(name, pid), daemon=True)
        for name, pid in pipeline.pids.items()
        if name.startswith("siem ")
    ]
    for thread in threads:
        thread.start()
    return threads
