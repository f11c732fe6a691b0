"""Stage 2 in one process: hits of N distinct group keys through the service's handler, all windows left open.

    python -m benchmarks.stage2_worker --rules DIR --keys 1000000 [--chunk 20000]

The correlation (an SSH brute-force count by source.ip over one hour) never fires: every key
gets one hit, all within the hour, so after the run N windows are live. Chunk by chunk, the
same hit bytes are first only decoded with orjson (the ceiling), then handled by
CorrelationHandler over bus Messages of 500 as the service runs it (Hit.from_json,
CorrelationEngine.observe with its periodic sweep, output produced to a MemoryBus). Prints
one JSON object: samples, live windows, RSS before the windows and the process's peak RSS
(VmHWM).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from benchmarks.measure import Sample, probe
from services.correlator.correlate import CorrelationEngine
from services.correlator.ruleset import RuleSet
from services.correlator.stage import CorrelationHandler
from services.shared import topics
from services.shared.bus import Message
from services.shared.bus.memory import MemoryBus
from services.shared.runtime import settle_garbage_collector

DETECTION_ID = "7a2b5c1e-0f3d-4d8e-9b6a-1c2d3e4f5a60"
CORRELATION_ID = "7a2b5c1e-0f3d-4d8e-9b6a-1c2d3e4f5a61"
RULES = f"""\
title: SSH failed password
id: {DETECTION_ID}
name: ssh_failed_password
status: test
logsource: {{product: linux, service: sshd}}
detection:
  selection: {{message|contains: 'Failed password'}}
  condition: selection
level: low
---
title: SSH brute force from one source
id: {CORRELATION_ID}
status: test
correlation:
  type: event_count
  rules: [ssh_failed_password]
  group-by: [source.ip]
  timespan: 1h
  condition: {{gte: 10}}
level: high
"""
BATCH = 500
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def write_rules(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ssh_brute_force.yml").write_text(RULES, encoding="utf-8")
    return folder


def hit_bytes(number: int, spacing_seconds: float) -> bytes:
    """The JSON a stage-1 hit of key `number` has on `siem.hits` (Hit.to_json's shape).

    Copied out of orjson's bytes, which keep its 4 KiB output buffer: a chunk of 20,000 of
    them would add 80 MB to the peak RSS, where records read from Kafka are sized to content.
    """
    ip = f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"
    moment = T0 + timedelta(seconds=number * spacing_seconds)
    encoded = orjson.dumps(
        {
            "correlation": CORRELATION_ID,
            "rule": DETECTION_ID,
            "time": moment.isoformat().replace("+00:00", "Z"),
            "event_ids": [f"evt-{number:08d}"],
            "group": {"source.ip": ip},
            "value": None,
            "modules": ["system"],
            "count": 1,
            "first_time": None,
        }
    )
    return bytes(memoryview(encoded))


def rss_kib(field: str = "VmRSS") -> int:
    """This process's resident set (VmRSS) or its peak (VmHWM), in KiB.

    Not getrusage's ru_maxrss: Linux carries the parent's peak over a fork and exec into it, so
    a worker started from a big benchmark process reported the parent's 469 MiB as its own.
    """
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    return 0


def run(rules_dir: Path, keys: int, chunk: int, *, trace: bool = False) -> dict[str, Any]:
    rules = RuleSet.load([rules_dir])
    if CORRELATION_ID not in rules.correlations:
        raise SystemExit(f"the correlation did not load: {[str(e) for e in rules.errors]}")
    engine = CorrelationEngine(rules, lateness_seconds=30)
    bus = MemoryBus(capacity=1_000_000)
    handler = CorrelationHandler(bus, engine)
    loop = asyncio.new_event_loop()
    settle_garbage_collector()  # as `siem run` does once started
    spacing = 1800 / keys  # every hit inside half the timespan: nothing is swept, every window stays live
    rss_before = rss_kib()
    if trace:
        tracemalloc.start()
    samples: dict[str, list[list[float]]] = {"decode": [], "handler": []}
    alerts = 0
    for start in range(0, keys, chunk):
        values = [hit_bytes(n, spacing) for n in range(start, min(keys, start + chunk))]
        messages = [
            Message(topic=topics.HITS, partition=0, offset=start + i, value=v, key=str(start + i).encode())
            for i, v in enumerate(values)
        ]
        before = probe()
        clock = time.perf_counter()
        for value in values:
            orjson.loads(value)
        elapsed = time.perf_counter() - clock
        samples["decode"].append(Sample(len(values) / elapsed, before, probe()).to_json())
        before = probe()
        clock = time.perf_counter()
        for batch in range(0, len(messages), BATCH):
            alerts += loop.run_until_complete(handler(messages[batch : batch + BATCH]))["alerts"]
        elapsed = time.perf_counter() - clock
        samples["handler"].append(Sample(len(messages) / elapsed, before, probe()).to_json())
    allocations = []
    if trace:
        snapshot = tracemalloc.take_snapshot()
        for stat in snapshot.statistics("lineno")[:12]:
            frame = stat.traceback[0]
            allocations.append([f"{_short(frame.filename)}:{frame.lineno}", stat.size, stat.count])
    return {
        "keys": keys,
        "allocations": allocations,
        "open_windows": engine.open_windows(),
        "alerts": alerts,
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_kib(),
        "peak_rss_kib": rss_kib("VmHWM"),
        "samples": samples,
    }


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/work/main/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=Path, required=True, help="folder to write the correlation rules into")
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=20_000)
    parser.add_argument("--tracemalloc", action="store_true", help="also list where the live memory was allocated")
    args = parser.parse_args(argv)
    result = run(write_rules(args.rules), args.keys, args.chunk, trace=args.tracemalloc)
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
