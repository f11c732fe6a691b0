"""`siem replay`: a recorded file through the same parsers and both stages, on event time.

Alerts go to stdout as JSON lines (the alert shape of DESIGN.md); problems with the input
go to stderr as FILE:LINE: reason and make the exit code 1, after every line was tried.
Replaying the same file with the same rules always prints the same alerts.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from services.correlator.pipeline import InProcessPipeline
from services.correlator.replay_formats import LineOrigin, LineParser
from services.correlator.ruleset import RuleSet
from services.shared.errors import ParseError

PROGRESS_EVERY_SECONDS = 2.0


def replay(
    rules: RuleSet,
    path: Path,
    parse: LineParser,
    *,
    lateness_seconds: float,
    suppress_seconds: float = 0,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out = out or sys.stdout  # looked up per call: the streams may be replaced after import
    err = err or sys.stderr
    pipeline = InProcessPipeline(rules, lateness_seconds, suppress_seconds=suppress_seconds)
    events = alerts = errors = 0
    last_progress = time.monotonic()
    received = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    file_key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()
    for number, line in _lines(path):
        try:
            parsed = parse(line, LineOrigin(received, file_key, number))
        except (ParseError, ValueError) as exc:
            errors += 1
            print(f"{path}:{number}: {getattr(exc, 'reason', exc)}", file=err)
            continue
        for event in parsed:
            events += 1
            for alert in pipeline.feed(event):
                alerts += 1
                out.write(alert.model_dump_json() + "\n")
        if err.isatty() and time.monotonic() - last_progress > PROGRESS_EVERY_SECONDS:
            print(f"\r{path}: line {number}, {events} events, {alerts} alerts", end="", file=err, flush=True)
            last_progress = time.monotonic()
    for alert in pipeline.finish():
        alerts += 1
        out.write(alert.model_dump_json() + "\n")
    out.flush()
    late = f", {pipeline.late} late hits" if pipeline.late else ""
    print(f"replayed {events} events from {path}: {alerts} alerts, {errors} lines refused{late}", file=err)
    return 1 if errors else 0


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as file:
        for number, line in enumerate(file, start=1):
            stripped = line.strip()
            if stripped:
                yield number, stripped
