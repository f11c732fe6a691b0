"""`python -m benchmarks [--smoke] [--only NAME…]`: run the benchmarks and write benchmarks/results/<date>.md.

The full run takes about 8-10 minutes on the 2-core machine; `--smoke` (about 10 seconds of
measuring) proves the command still works and writes a well-formed file, with numbers too
short-lived to quote. One benchmark failing (a service that would not start, a peer that is
not installed) is written into the file as "not measured" with the reason; the others go on.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import e2e, ingest, peers, stage1, stage2
from benchmarks.commands import ROOT
from benchmarks.context import FULL, SMOKE, Context
from benchmarks.infra import Stack
from benchmarks.machine import describe
from benchmarks.recorded import build
from benchmarks.report import Report, Section

BENCHMARKS: dict[str, tuple[str, Callable[[Context], Section]]] = {
    "ingest": ("1. Ingest", ingest.run),
    "stage1": ("2. Correlator stage 1 (detection)", stage1.run),
    "stage2": ("3. Correlator stage 2 (correlation windows)", stage2.run),
    "e2e": ("4. End to end over Kafka", e2e.run),
    "peers": ("5. Peers on the same events and rules", peers.run),
}
SMOKE_SET = ("ingest", "stage1", "stage2")  # the rest need a broker, Loki or a peer build: minutes, not seconds

PREAMBLE = [
    "Numbers from a shared 2-vCPU KVM guest whose host alternates between a fast and a slow phase "
    "(1.5-2.2x apart) and that other work may share (the load average below says how busy it was): absolute "
    "numbers drift, the ratios to a baseline measured in the same run hold better. Every sample is "
    "bracketed by a ~20 ms pure-Python CPU probe; a sample is fast-phase when both probes read at least "
    "80 % of the run's fast reference (the 90th percentile of all probes), slow-phase when neither does, "
    "mixed otherwise (counted only in the overall median). Ratios compare fast with fast (else slow with slow).",
    "Variants compared with each other run interleaved (A B C A B C …), never all of A then all of B. "
    "Code under test is pinned to core 0 (taskset) and load generators to core 1.",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a ~10-second run that proves the command works")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run only these benchmarks")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results", help="folder of results files")
    parser.add_argument("--scratch", type=Path, help="keep the scratch files (servers' logs, bodies) in this folder")
    args = parser.parse_args(argv)

    # SIGTERM (and SIGINT, which a shell leaves ignored for background jobs) must still stop the broker & co.
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, _interrupted)
    budget = SMOKE if args.smoke else FULL
    names = args.only or (list(SMOKE_SET) if args.smoke else list(BENCHMARKS))
    started = datetime.now(UTC)
    command = shlex.join([".venv/bin/python", "-m", "benchmarks", *(argv if argv is not None else sys.argv[1:])])
    report = Report(describe(ROOT), command, started, "smoke: not for quoting" if args.smoke else "full run")
    report.preamble = list(PREAMBLE)
    findings = ROOT / "benchmarks" / "findings.md"
    if findings.exists() and not args.smoke:
        report.appendix = findings.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="siem-bench-") as scratch:
        work = args.scratch.resolve() if args.scratch else Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        clock = time.monotonic()
        recorded = build(work / "recorded", budget.events)
        _say(f"recorded set of {recorded.count} events built in {time.monotonic() - clock:.1f} s")
        ctx = Context(work=work, budget=budget, smoke=args.smoke, recorded=recorded, stack=Stack(work))
        try:
            _run_all(ctx, names, report)
        finally:
            ctx.stack.close()
    path = report.write(args.out, scratch=str(work))
    _say(f"results written to {path}")
    return 0


def _run_all(ctx: Context, names: list[str], report: Report) -> None:
    for name in names:
        title, bench = BENCHMARKS[name]
        clock = time.monotonic()
        _say(f"{title}…")
        try:
            section = bench(ctx)
        except Exception as exc:  # one benchmark failing must not lose the others' results
            traceback.print_exc(file=sys.stderr)
            section = Section(title, error=f"{type(exc).__name__}: {exc}")
        section.notes.append(f"Took {time.monotonic() - clock:.0f} s.")
        report.sections.append(section)
        _say(f"{title} done in {time.monotonic() - clock:.0f} s")


def _interrupted(number: int, _: object) -> None:
    raise SystemExit(128 + number)  # unwinds through `finally`, which stops every service started


def _say(text: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
