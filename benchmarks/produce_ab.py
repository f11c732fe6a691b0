"""The Kafka producer's CPU per event, compared between trees' `kafka.py`: the A/B behind its settings.

    scripts/kafka.sh start DIR PORT
    python -m benchmarks.produce_ab --bootstrap 127.0.0.1:PORT --broker-pid "$(cat DIR/kafka.pid)" \\
        --events envelopes.ndjson TREE_A TREE_B [--rounds 6] [--seconds 2] [--work-us 10] [--per-call 100]

Each tree's services/shared/bus/kafka.py is loaded into this one process as a module of its own
(the rest of `services` comes from PYTHONPATH), each with a bus of its own, so the variants see
the same process, broker and phase. A round runs 8 callers, as ingest's 8 connections: each
spends `--work-us` of CPU an event (a stand-in for parsing) and then awaits `send_many` of
`--per-call` envelopes (100: NDJSON batches; 1: single events, where a request's own cost is
some 200 µs). It reports per round the process's CPU per event less the stand-in work, the
broker's (from /proc), the rate and the events per produce request. Variants alternate
(A B B A …) after a warm-up round each: a new connection costs more for its first seconds.
A round counts as fast when its CPU probe is within 20 % of the fastest, as in cpu_ab.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import itertools
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka.producer import sender

from services.shared.bus import Record
from services.shared.settings import CommonSettings

CALLERS, BODIES, FAST_SHARE = 8, 60, 0.8
_requests = [0]
_create_request = sender.SendProduceReqHandler.create_request


def _counted(self: Any) -> Any:
    _requests[0] += 1
    return _create_request(self)


sender.SendProduceReqHandler.create_request = _counted  # counts produce requests, changes nothing


def _bus_module(tree: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, tree / "services/shared/bus/kafka.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _probe() -> float:
    """Millions of loop turns a second in pure Python: the machine's phase."""
    start, turns = time.perf_counter(), 0
    while time.perf_counter() - start < 0.02:
        for _ in range(1000):
            turns += 1
    return turns / (time.perf_counter() - start) / 1e6


def _cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _spin(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


async def _round(bus: Any, batches: list[list[Record]], args: argparse.Namespace) -> dict[str, float]:
    sent, work, stop = 0, 0.0, False

    async def caller(number: int) -> None:
        nonlocal sent, work
        for batch in itertools.cycle(batches[number::CALLERS]):
            if stop:
                return
            _spin(args.work_us * len(batch) / 1e6)
            work += args.work_us * len(batch) / 1e6
            await bus.send_many("siem.events", batch)
            sent += len(batch)

    tasks = [asyncio.create_task(caller(n)) for n in range(CALLERS)]
    await asyncio.sleep(0.3)
    probe = _probe()
    sent0, work0, requests0 = sent, work, _requests[0]
    cpu0, broker0, wall0 = time.process_time(), _cpu_seconds(args.broker_pid), time.perf_counter()
    await asyncio.sleep(args.seconds)
    cpu1, broker1, wall1 = time.process_time(), _cpu_seconds(args.broker_pid), time.perf_counter()
    events, requests = sent - sent0, _requests[0] - requests0
    probe = min(probe, _probe())
    stop = True
    await asyncio.gather(*tasks)
    return {
        "producer µs/event": ((cpu1 - cpu0) - (work - work0)) / events * 1e6,
        "broker µs/event": (broker1 - broker0) / events * 1e6,
        "events/s": events / (wall1 - wall0),
        "events/request": events / max(1, requests),
        "probe": probe,
    }


async def _main(args: argparse.Namespace) -> None:
    with args.events.open("rb") as lines:
        envelopes = [line.rstrip(b"\n") for line in itertools.islice(lines, BODIES * args.per_call)]
    size = args.per_call
    batches = [[Record(e) for e in envelopes[i : i + size]] for i in range(0, len(envelopes), size)]
    buses: dict[str, Any] = {}
    for number, tree in enumerate(args.trees):
        module = _bus_module(tree, f"_produce_ab_bus_{number}")
        prefix = f"ab{number}-{uuid.uuid4().hex[:8]}."
        buses[f"{tree} ({number})"] = bus = module.KafkaBus(
            CommonSettings(kafka_bootstrap=args.bootstrap, kafka_topic_prefix=prefix)
        )
        await bus.start()
    try:
        for bus in buses.values():
            await _round(bus, batches, args)  # warm-up, not counted
        results: dict[str, list[dict[str, float]]] = {name: [] for name in buses}
        for number in range(args.rounds):
            for name in list(buses) if number % 2 == 0 else list(buses)[::-1]:
                results[name].append(await _round(buses[name], batches, args))
    finally:
        for bus in buses.values():
            await bus.close()
    fastest = max(r["probe"] for rounds in results.values() for r in rounds)
    keys = ["producer µs/event", "broker µs/event", "events/s", "events/request"]
    print("| tree | rounds | " + " | ".join(f"{k}, median" for k in keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for name, rounds in results.items():
        fast = [r for r in rounds if r["probe"] >= FAST_SHARE * fastest]
        for label, chosen in (("all", rounds), ("fast", fast)):
            if chosen:
                cells = [f"{statistics.median(r[k] for r in chosen):,.2f}" for k in keys]
                print(f"| {name} | {len(chosen)} {label} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--broker-pid", type=int, help="the broker's pid, for its CPU per event")
    parser.add_argument("--events", type=Path, required=True, help="envelopes, one a line (recorded/envelopes.ndjson)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--work-us", type=float, default=10.0, help="CPU each caller spends an event before sending")
    parser.add_argument("--per-call", type=int, default=100, help="envelopes a caller sends at once (1: single events)")
    parser.add_argument("trees", type=Path, nargs="+")
    asyncio.run(_main(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
