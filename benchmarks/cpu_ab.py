"""Stage 1's handler, CPU µs per event, compared between source trees: the A/B behind the findings.

    python -m benchmarks.cpu_ab --rules DIR --events envelopes.ndjson TREE_A TREE_B [--rounds 6]

Each round runs one child process per tree, trees alternating (A B A B …), with `PYTHONPATH`
and the working directory set to that tree. A child times `DetectionHandler` over bus Messages
of 500 with `time.process_time`, the garbage collector settled as `siem run` settles it, and
times orjson decoding the same events as a phase probe. CPU time moves less than wall time with
the machine's load, but not with its fast and slow phases: a round counts as fast when its
probe is within 20 % of the fastest probe, and the medians are given for those rounds apart.
Prints a Markdown table. The recorded set and rule sets come from a benchmark run (`--scratch`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

EVENTS = 20_000
FAST_SHARE = 0.8


# The child is given as source, not as this module: a tree from before this tool still runs it.
_CHILD = """
import json, sys, time
from pathlib import Path
from benchmarks.recorded import read_lines
from benchmarks.stage1_worker import Stage1
from services.correlator.ruleset import RuleSet
from services.shared.runtime import settle_garbage_collector

rules, events, count = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
stage = Stage1(RuleSet.load([rules]), read_lines(events, int(sys.argv[4])))
settle_garbage_collector()
figures = {}
for name, step in (("decode", stage.decode), ("handler", stage.handle)):
    started, done = time.process_time(), 0
    while done < count:
        done += step()
    stage.drain()
    figures[name] = (time.process_time() - started) / done * 1e6
print(json.dumps(figures))
"""


def _run_child(tree: Path, rules_dir: Path, events: Path, count: int) -> dict[str, float]:
    """One tree's figures (decode and handler µs an event), from a process running that tree's code."""
    command = [sys.executable, "-c", _CHILD, str(rules_dir), str(events), str(count), str(EVENTS)]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=True)  # noqa: S603
    figures: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return figures


def compare(trees: list[Path], rules_dir: Path, events: Path, rounds: int, count: int) -> str:
    results: list[list[dict[str, float]]] = [[] for _ in trees]
    for _ in range(rounds):
        for runs, tree in zip(results, trees, strict=True):
            runs.append(_run_child(tree, rules_dir, events, count))
    fastest = min(r["decode"] for runs in results for r in runs)
    lines = [
        f"Stage 1 handler, CPU µs an event, {rounds} rounds of {count:,} events per tree, trees alternated",
        "",
        "| tree | handler, fast rounds (median) | fast rounds | handler, all rounds (median) | decode probe (median) |",
        "|---|---|---|---|---|",
    ]
    for tree, runs in zip(trees, results, strict=True):
        fast = [r["handler"] for r in runs if fastest / r["decode"] >= FAST_SHARE]
        shown = f"{statistics.median(fast):.1f}" if fast else "–"
        every = statistics.median(r["handler"] for r in runs)
        probe = statistics.median(r["decode"] for r in runs)
        lines.append(f"| {tree} | {shown} | {len(fast)} | {every:.1f} | {probe:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="*", type=Path, help="source trees to compare (each holds services/)")
    parser.add_argument("--rules", type=Path, required=True, help="a rule folder, e.g. $SCRATCH/rules/1000")
    parser.add_argument("--events", type=Path, required=True, help="$SCRATCH/recorded/envelopes.ndjson")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--count", type=int, default=EVENTS, help="events timed per figure")
    args = parser.parse_args(argv)
    if len(args.trees) < 2:
        parser.error("give at least two trees to compare")
    print(compare([tree.resolve() for tree in args.trees], args.rules, args.events, args.rounds, args.count))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
