"""The event-delivery stage in one process: recorded enriched records through the service's handler to Loki's payload.

    python -m benchmarks.sinks_worker --envelopes recorded/envelopes.ndjson [--count 5000] [--rounds 3]

Each envelope becomes the record stage 1 writes to `siem.enriched` (`with_matches`; one
event in five matches a rule, one in twenty two), then bus Messages of 500 go through
DeliveryHandler and LokiSink as `siem run sinks` runs them: decode, stream labels, lines,
pushes, snappy-compressed protobuf. Only the POST is left out (no network, no Loki), so a
sample is the sink process's own CPU per event. Prints one JSON object: samples, each
[events/s, probe before, probe after] (benchmarks/measure.py), and the bytes it would post.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

import orjson

from benchmarks.measure import timed
from benchmarks.recorded import read_lines
from services.correlator.sinks.delivery import DeliveryHandler
from services.correlator.sinks.loki import LokiSink
from services.correlator.sinks.record import EnrichedRecord, decode_enriched
from services.correlator.sinks.settings import SinksSettings
from services.shared import topics
from services.shared.alert import RuleRef
from services.shared.bus import Message
from services.shared.bus.memory import MemoryBus
from services.shared.event import with_matches

BATCH = 500  # consumer_max_records' default
RULES = [RuleRef(id=f"rule-{level}", title=f"A {level} rule", level=level) for level in ("low", "medium", "high")]


class _Unposted(LokiSink):
    """The Loki sink with its POST replaced: everything up to the request body is the service's code."""

    posted_bytes = 0

    async def _post(self, body: bytes) -> None:
        self.posted_bytes += len(body)


def enriched(envelopes: list[bytes]) -> list[bytes]:
    return [with_matches(value, RULES[: 1 + (n % 20 == 0)] if n % 5 == 0 else []) for n, value in enumerate(envelopes)]


def run(envelopes: Path, count: int, rounds: int) -> dict[str, Any]:
    values = enriched(read_lines(envelopes, count))
    messages = [Message(topic=topics.ENRICHED, partition=0, offset=n, value=v) for n, v in enumerate(values)]
    sink = _Unposted(SinksSettings(loki_url="http://127.0.0.1:3100"), session=None)  # type: ignore[arg-type]
    handler = DeliveryHandler[EnrichedRecord]("event_delivery", MemoryBus(capacity=10), decode_enriched, [sink], 1)
    loop = asyncio.new_event_loop()

    def deliver_all() -> int:
        for start in range(0, len(messages), BATCH):
            loop.run_until_complete(handler(messages[start : start + BATCH]))
        return len(messages)

    deliver_all()  # warm-up: imports, caches
    samples = [timed(deliver_all).to_json() for _ in range(rounds)]
    return {
        "events": len(messages),
        "samples": samples,
        "posted_bytes_per_event": sink.posted_bytes / len(messages) / (rounds + 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sinks_worker")
    parser.add_argument("--envelopes", type=Path, required=True)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    sys.stdout.write(orjson.dumps(run(args.envelopes, args.count, args.rounds)).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
