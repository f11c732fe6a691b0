"""Benchmark 1, ingest: events/s accepted into the bus, single events and NDJSON batches of 100, p50/p99.

Four servers, each pinned to core 0, loaded in turn from core 1 by wrk (or the aiohttp
client where wrk is missing) with the same bodies drawn from the recorded set:
- bare: an aiohttp handler that reads the body, decodes it with orjson and answers 202 (baseline);
- ingest over the memory bus: ingest's own app, validation and all, into the embedded bus;
- the bare handler over Kafka: the same, then each line put on `siem.events` by our Kafka producer,
  as ingest puts its envelopes (the floor of any ingest through this producer: no checks, no envelope);
- ingest over Kafka: `siem run ingest` producing to the real broker (acks=all, idempotent).
Latency is the load generator's, under the same closed-loop load (8 connections). CPU time per
accepted event is read from /proc for each server, and for the broker behind the Kafka variants,
which shares the cores: where the Kafka variants' time goes beyond the others'.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.commands import LOAD_CORE, WORKER_CORE, python, run_json, shown
from benchmarks.context import Context
from benchmarks.load import read_bodies, run_wrk, write_bodies, write_wrk_script, wrk_command, wrk_path
from benchmarks.measure import Sample, probe
from benchmarks.pipeline import cpu_seconds, pid_file
from benchmarks.profiles import EVENT_LOOP, Profile, attach
from benchmarks.recorded import read_lines
from benchmarks.report import Row, Section, Table, Target, share
from tests.infra import free_port

SIEM = str(Path(sys.executable).parent / "siem")
CONNECTIONS = 8
BATCH = 100
TARGET_SHARE = 0.7
BARE = "bare aiohttp (decode + 202)"
BARE_KAFKA = "bare aiohttp → Kafka (decode + produce + 202)"
# The default limit (100 requests/s per caller) would measure its refusals: out of reach, still on the path.
SERVICE_ENV = {
    "SIEM_INGEST_RATE_LIMIT": "1000000000/second",
    "SIEM_INGEST_SYSLOG_ENABLED": "false",
    "SIEM_LOG_FORMAT": "json",
    "SIEM_LOKI_URL": "",
}


@dataclass
class Variant:
    name: str
    url: str
    pid: int
    broker_pid: int | None = None  # the Kafka broker it produces to, for its CPU per event


def _bodies(ctx: Context) -> dict[str, tuple[int, Any]]:
    lines = read_lines(ctx.recorded.generic, 300 + 60 * BATCH)
    single = write_bodies(ctx.work / "single.bodies", lines[:300])
    batches = [b"\n".join(lines[300 + i * BATCH : 300 + (i + 1) * BATCH]) for i in range(60)]
    return {"single": (1, single), f"batch of {BATCH}": (BATCH, write_bodies(ctx.work / "batch.bodies", batches))}


def _servers(ctx: Context) -> list[Variant]:
    stack = ctx.stack
    variants = [_server(ctx, "bare", BARE, {}), _server(ctx, "ingest-memory", "ingest → memory bus", {})]
    if not ctx.smoke:
        broker = stack.kafka()
        broker_pid = pid_file(broker.data_dir / "kafka.pid")
        bare_env = {"SIEM_KAFKA_BOOTSTRAP": broker.bootstrap, "SIEM_KAFKA_TOPIC_PREFIX": "bench-bare-"}
        variants.append(_server(ctx, "bare-kafka", BARE_KAFKA, bare_env, broker_pid))
        port = free_port()
        env = {
            **SERVICE_ENV,
            "SIEM_KAFKA_BOOTSTRAP": broker.bootstrap,
            "SIEM_KAFKA_TOPIC_PREFIX": "bench-ingest-",
            "SIEM_INGEST_PORT": str(port),
        }
        process = stack.spawn(
            "siem-ingest", [SIEM, "run", "ingest"], env, core=WORKER_CORE, ready_url=f"http://127.0.0.1:{port}/readyz"
        )
        url = f"http://127.0.0.1:{port}/v1/events"
        variants.append(Variant("ingest → Kafka (siem run ingest)", url, process.pid, broker_pid))
    return variants


def _server(ctx: Context, kind: str, name: str, env: dict[str, str], broker_pid: int | None = None) -> Variant:
    """One of `benchmarks.servers`, pinned to the worker core, once it listens."""
    port = free_port()
    ready = f"http://127.0.0.1:{port}/readyz" if kind == "ingest-memory" else f"http://127.0.0.1:{port}/v1/events"
    command = python("benchmarks.servers", kind, "--port", str(port))
    process = ctx.stack.spawn(f"server-{kind}", command, {**SERVICE_ENV, **env}, core=WORKER_CORE, ready_url=None)
    _wait_port(ctx.stack, f"server-{kind}", process, ready)
    return Variant(name, f"http://127.0.0.1:{port}/v1/events", process.pid, broker_pid)


def _wait_port(stack: Any, name: str, process: subprocess.Popen[bytes], url: str) -> None:
    """The bare servers have no probe: a GET on their POST route answering 405 means one listens."""
    import time
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited: {stack.log_tail(name)}")
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - loopback only
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{name} did not listen: {stack.log_tail(name)}")


def _load(ctx: Context, url: str, bodies: Any, per_body: int, seconds: float) -> tuple[dict[str, Any], str]:
    if wrk_path():
        script = write_wrk_script(ctx.work)
        result = run_wrk(url, bodies, script, CONNECTIONS, seconds, LOAD_CORE)
        return result, f"BENCH_BODIES={bodies.name} taskset -c {LOAD_CORE} " + " ".join(
            wrk_command(url, script, CONNECTIONS, seconds)
        ).replace(str(ctx.work) + "/", "")
    command = python(
        "benchmarks.load", "closed", "--url", url, "--bodies", str(bodies), "--events-per-body", str(per_body)
    )
    command += ["--connections", str(CONNECTIONS), "--seconds", str(seconds)]
    command = ["taskset", "-c", str(LOAD_CORE), *command]
    return run_json(command, timeout=seconds + 60), shown(command).replace(str(ctx.work) + "/", "")


def run(ctx: Context) -> Section:
    section = Section("1. Ingest")
    bodies = _bodies(ctx)
    variants = _servers(ctx)
    seconds = ctx.budget.load_seconds
    rates: dict[tuple[str, str], list[Sample]] = {}
    p50: dict[tuple[str, str], list[Sample]] = {}
    p99: dict[tuple[str, str], list[Sample]] = {}
    errors: dict[tuple[str, str], int] = {}
    cpu: dict[tuple[str, str], list[float]] = {}  # µs of CPU per accepted event: (kind, process) -> per round
    commands: dict[str, str] = {}
    for _ in range(ctx.budget.load_rounds):
        for kind, (per_body, path) in bodies.items():
            for variant in variants:
                processes = {variant.name: variant.pid}
                if variant.broker_pid is not None:
                    # Named after the variant without its parenthesis: "Kafka broker behind ingest → Kafka".
                    processes[f"Kafka broker behind {variant.name.split(' (')[0]}"] = variant.broker_pid
                cpu_before = {name: cpu_seconds(pid) for name, pid in processes.items()}
                before = probe()
                result, commands[kind] = _load(ctx, variant.url, path, per_body, seconds)
                after = probe()
                key = (kind, variant.name)
                good = result["requests"] - result["errors"]
                for name, pid in processes.items():
                    used = cpu_seconds(pid) - cpu_before[name]
                    cpu.setdefault((kind, name), []).append(used * 1e6 / max(1, good * per_body))
                rates.setdefault(key, []).append(Sample(good * per_body / result["seconds"], before, after))
                p50.setdefault(key, []).append(Sample(result["p50_ms"], before, after))
                p99.setdefault(key, []).append(Sample(result["p99_ms"], before, after))
                errors[key] = errors.get(key, 0) + result["errors"]
    base = variants[0].name
    for kind, (_, path) in bodies.items():
        table = Table(f"{kind} ({len(read_bodies(path))} distinct bodies, cycled)", commands[kind])
        for variant in variants:
            key = (kind, variant.name)
            table.rows.append(Row(variant.name, "events/s", rates[key], None if variant.name == base else base))
        for label, data in (("p50 latency", p50), ("p99 latency", p99)):
            for variant in variants:
                baseline = None if variant.name == base else f"{label}, {base}"
                table.rows.append(Row(f"{label}, {variant.name}", "ms", data[(kind, variant.name)], baseline))
        failed = {name: n for (k, name), n in errors.items() if k == kind and n}
        used = ", ".join(f"{name} {statistics.median(values):,.1f}" for (k, name), values in cpu.items() if k == kind)
        table.notes.append(f"CPU time per accepted event, median over rounds (µs; /proc user + system): {used}")
        table.notes.append(f"non-2xx answers or socket errors: {failed or 'none'} (not counted as accepted)")
        section.tables.append(table)
    section.notes += [
        f"Load: closed loop, {CONNECTIONS} connections, {seconds:g} s per run, variants interleaved per round; "
        f"{'wrk' if wrk_path() else 'aiohttp client (wrk not installed)'} on core {LOAD_CORE}, servers on core "
        f"{WORKER_CORE}; the Kafka broker is not pinned (it shares both cores).",
        "Ingest runs with its per-caller rate limit set out of reach (SIEM_INGEST_RATE_LIMIT=1000000000/second), "
        "so the limiter is still on the path; logs go to a file as JSON (one line per request, as in production).",
    ]
    kafka = next((v for v in variants if v.name.startswith("ingest → Kafka")), None)
    if kafka is not None:
        _target(section, rates, f"batch of {BATCH}", kafka.name, base)
        section.profile += _profile(ctx, kafka, bodies[f"batch of {BATCH}"])
    return section


def _target(section: Section, rates: dict[tuple[str, str], list[Sample]], kind: str, ours: str, base: str) -> None:
    what = "Ingest, batches of 100, incl. validation and Kafka produce, vs bare aiohttp"

    def of_base(name: str, reference: float) -> tuple[float, str] | None:
        return share(Row(name, "", rates[(kind, name)]), Row(base, "", rates[(kind, base)]), reference)

    def judge(reference: float) -> Target:
        compared = of_base(ours, reference)
        if compared is None:
            return Target(what, f"≥ {TARGET_SHARE:.0%}", "no samples", None)
        value, phase = compared
        met = value >= TARGET_SHARE
        gap = "" if met else f"{TARGET_SHARE / value:.1f}× too slow ({value:.0%} of the baseline)"
        # The bare handler that only produces what it decoded: what the producer alone leaves of the baseline.
        floor = of_base(BARE_KAFKA, reference)
        if floor is not None and not met:
            gap += f"; the bare handler producing to Kafka reaches {floor[0]:.0%} ({floor[1]} phase)"
        return Target(what, f"≥ {TARGET_SHARE:.0%} of bare", f"{value:.1%} ({phase} phase)", met, gap)

    section.targets.append(judge)


def _profile(ctx: Context, variant: Variant, body: tuple[int, Any]) -> list[str]:
    """py-spy on the Kafka-backed ingest process while it takes batches of 100."""
    seconds = 8.0
    holder: dict[str, Profile] = {}
    sampler = threading.Thread(target=lambda: holder.setdefault("p", attach(variant.pid, seconds, EVENT_LOOP)))
    sampler.start()
    _load(ctx, variant.url, body[1], body[0], seconds + 1)
    sampler.join()
    profile = holder.get("p")
    if profile is None:
        return ["py-spy could not sample the ingest process."]
    title = f"`siem run ingest` over Kafka, batches of 100 — `py-spy record --native --pid PID --duration {seconds:g}`"
    return profile.markdown(title)
