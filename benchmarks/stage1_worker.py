"""Stage 1 in one process (pinned to a core by the caller): decode ceiling, engine alone, the service's handler.

    python -m benchmarks.stage1_worker --rules DIR --events envelopes.ndjson [--seconds 1] [--rounds 5]

Variants, interleaved round by round, each sample a time slice of about `--seconds`:
- decode: orjson.loads of each envelope (the ceiling: nothing can be faster than reading the event);
- engine: DetectionEngine.evaluate on envelopes validated beforehand (the rule engine alone);
- detect: the handler's own decode and evaluate over the same Messages, nothing written (what the
  service path costs before it writes an alert or an enriched record);
- handler: DetectionHandler over bus Messages of 500 (what `siem.events` delivers), as the
  service runs it: the envelope decoded and checked, evaluate, alerts/hits/enriched records built and
  produced to a MemoryBus whose output topics are drained between batches (outside the clock).
Prints one JSON object: samples per variant and what the rule set matched.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from benchmarks.measure import Sample, probe
from benchmarks.recorded import read_lines
from services.correlator.engine import DetectionEngine
from services.correlator.ruleset import RuleSet
from services.correlator.stage import DetectionHandler
from services.shared import topics
from services.shared.bus import Message
from services.shared.bus.memory import MemoryBus, MemoryConsumer
from services.shared.envelope import decode
from services.shared.runtime import settle_garbage_collector

BATCH = 500  # consumer_max_records' default: the batch the service hands its handler
ENGINE_POOL = 5_000  # envelopes validated up front for the engine-alone variant (cycled)
VARIANTS = ("decode", "engine", "detect", "handler")


class Cursor:
    """Cycles through a list, so time-bounded samples go on where the previous one stopped."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self.position = 0

    def take(self, count: int) -> list[Any]:
        end = self.position + count
        chunk = self.items[self.position : end]
        if len(chunk) < count:
            chunk += self.items[: count - len(chunk)]
        self.position = end % len(self.items)
        return chunk


def sliced(step: Callable[[], int], seconds: float) -> Sample:
    """Repeat `step` (items per call) for about `seconds`, between two probes: items per second."""
    before = probe()
    count = 0
    started = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds:
        count += step()
        elapsed = time.perf_counter() - started
    after = probe()
    return Sample(count / elapsed, before, after)


BUS_CAPACITY = 2_000_000


class Stage1:
    def __init__(self, rules: RuleSet, lines: list[bytes]) -> None:
        self.lines = Cursor(lines)
        self.messages = Cursor(
            [Message(topic=topics.EVENTS, partition=0, offset=n, value=v) for n, v in enumerate(lines)]
        )
        self.events = Cursor([decode(line) for line in lines[:ENGINE_POOL]])
        self.engine = DetectionEngine(rules)
        # Drained only between samples: a full bus would make the handler wait (8 s at 20 k events/s,
        # an alert an event, is 320 k messages), so it holds more than one sample can write.
        self.bus = MemoryBus(capacity=BUS_CAPACITY)
        self.handler = DetectionHandler(self.bus, DetectionEngine(rules))
        self.drains: list[MemoryConsumer] = [
            self.bus.consumer("bench-drain", [topic]) for topic in (topics.ALERTS, topics.HITS, topics.ENRICHED)
        ]
        self.produced = {"alerts": 0, "hits": 0, "events": 0}
        self.loop = asyncio.new_event_loop()
        for consumer in self.drains:
            self.loop.run_until_complete(consumer.start())

    def decode(self) -> int:
        for line in self.lines.take(BATCH):
            orjson.loads(line)
        return BATCH

    def evaluate(self) -> int:
        for event in self.events.take(BATCH):
            self.engine.evaluate(event)
        return BATCH

    def detect(self) -> int:
        evaluate = self.engine.evaluate
        for message in self.messages.take(BATCH):
            evaluate(decode(message.value))
        return BATCH

    def handle(self) -> int:
        messages = self.messages.take(BATCH)
        stats = self.loop.run_until_complete(self.handler(messages))
        self.produced["alerts"] += stats["alerts"]
        self.produced["hits"] += stats["hits"]
        self.produced["events"] += len(messages)
        return len(messages)

    def drain(self) -> None:
        """What the next stages do with the output: taken and committed, so the bus never fills."""

        async def take_all() -> None:
            for consumer in self.drains:
                while await consumer.getmany(timeout_ms=0, max_records=10_000):
                    await consumer.commit()

        self.loop.run_until_complete(take_all())


def run(
    rules_dir: Path, events: Path, seconds: float, rounds: int, only: list[str], limit: int | None
) -> dict[str, Any]:
    started = time.perf_counter()
    rules = RuleSet.load([rules_dir])
    load_seconds = time.perf_counter() - started
    stage = Stage1(rules, read_lines(events, limit))
    settle_garbage_collector()  # as `siem run` does once started: the rules and the recorded set are frozen
    steps: dict[str, Callable[[], int]] = {
        "decode": stage.decode,
        "engine": stage.evaluate,
        "detect": stage.detect,
        "handler": stage.handle,
    }
    samples: dict[str, list[list[float]]] = {name: [] for name in only}
    for _ in range(rounds):
        for name in only:
            samples[name].append(sliced(steps[name], seconds).to_json())
            stage.drain()
    return {
        "rules": len(rules.detections),
        "refused": len(rules.errors),
        "load_seconds": load_seconds,
        "events_in_set": len(stage.lines.items),
        "produced": stage.produced,
        "samples": samples,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=Path, required=True)
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", nargs="*", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--limit", type=int, default=None, help="read only the first N envelopes")
    args = parser.parse_args(argv)
    result = run(args.rules, args.events, args.seconds, args.rounds, args.only, args.limit)
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
