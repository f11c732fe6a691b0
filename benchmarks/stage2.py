"""Benchmark 3, correlator stage 2: hits/s and peak RSS with 1,000,000 distinct group keys live in windows."""

from __future__ import annotations

from typing import Any

from benchmarks.commands import WORKER_CORE, pinned, python, run_json, shown
from benchmarks.context import Context
from benchmarks.measure import samples_from_json
from benchmarks.profiles import record
from benchmarks.report import Row, Section, Table, Target

TARGET_KEYS = 1_000_000
TARGET_MIB = 300.0
TRACE_KEYS = 20_000  # tracemalloc slows the run several times: a smaller run shows where memory goes
PROFILE_KEYS = 300_000  # enough windows for the sweep to show


def worker_command(ctx: Context, keys: int, *extra: str) -> list[str]:
    folder = ctx.work / "stage2-rules"
    return pinned(python("benchmarks.stage2_worker", "--rules", str(folder), "--keys", str(keys), *extra), WORKER_CORE)


def run(ctx: Context) -> Section:
    section = Section("3. Correlator stage 2 (correlation windows)")
    keys = ctx.budget.stage2_keys
    command = worker_command(ctx, keys)
    result = run_json(command, timeout=1200)
    peak_mib = result["peak_rss_kib"] / 1024
    before_mib = result["rss_before_kib"] / 1024
    per_key = (result["peak_rss_kib"] - result["rss_before_kib"]) * 1024 / max(1, result["open_windows"])
    table = Table(
        f"{keys:,} distinct group keys, one hit each, all windows left open",
        shown(command),
        [
            Row("decode (orjson.loads of the hit)", "hits/s", samples_from_json(result["samples"]["decode"])),
            Row(
                "service path (CorrelationHandler over Messages)",
                "hits/s",
                samples_from_json(result["samples"]["handler"]),
                "decode (orjson.loads of the hit)",
            ),
        ],
        [
            f"live windows at the end: {result['open_windows']:,}; alerts: {result['alerts']}",
            f"RSS before the first hit {before_mib:,.0f} MiB (interpreter, pySigma, rules); peak RSS "
            f"{peak_mib:,.0f} MiB (VmHWM of the worker process); {per_key:,.0f} bytes per live key",
            "each sample is a chunk of 20,000 hits: first only decoded, then handled (interleaved chunk by chunk); "
            "the engine sweeps expired windows once per as many hits as there are windows, so a sweep's cost is spread",
        ],
    )
    section.tables.append(table)
    measured = f"{peak_mib:,.0f} MiB peak RSS with {result['open_windows']:,} keys"
    if keys >= TARGET_KEYS:
        met = peak_mib <= TARGET_MIB
        gap = "" if met else f"{peak_mib / TARGET_MIB:.1f}× over ({peak_mib - TARGET_MIB:,.0f} MiB too much)"
        section.targets.append(lambda _: Target("Stage 2: 1,000,000 live keys", "≤ 300 MB RSS", measured, met, gap))
    else:
        section.targets.append(
            lambda _: Target("Stage 2: 1,000,000 live keys", "≤ 300 MB RSS", f"smoke: {measured}", None)
        )
    if not ctx.smoke:
        traced = run_json(worker_command(ctx, TRACE_KEYS, "--tracemalloc"), timeout=600)
        section.profile += _allocations(traced, shown(worker_command(ctx, TRACE_KEYS, "--tracemalloc")))
        command = worker_command(ctx, PROFILE_KEYS)
        profile = record(command, focus="CorrelationHandler.__call__")
        section.profile += profile.markdown(
            f"stage 2 service path over {PROFILE_KEYS:,} keys — `py-spy record --native -- {shown(command)}`"
        )
    return section


def _allocations(result: dict[str, Any], command: str) -> list[str]:
    keys = max(1, result["open_windows"])
    lines = [
        f"#### Memory profile: live allocations after {keys:,} keys (tracemalloc) — `{command}`",
        "",
        "| allocated at | bytes per key | objects per key |",
        "|---|---|---|",
    ]
    for site, size, count in result["allocations"]:
        lines.append(f"| `{site}` | {size / keys:,.0f} | {count / keys:.2f} |")
    lines.append("")
    lines.append(
        "Lines under benchmarks/ are the chunk of input hits the worker holds (transient, not per key); "
        "the rest is what the engine keeps per live window."
    )
    return [*lines, ""]
