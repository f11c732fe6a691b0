"""Benchmark 2, correlator stage 1: events/s with 10, 100 and 1,000 rules against the orjson decode ceiling."""

from __future__ import annotations

from benchmarks.commands import WORKER_CORE, pinned, python, run_json, shown
from benchmarks.context import Context
from benchmarks.measure import samples_from_json
from benchmarks.profiles import record
from benchmarks.report import Row, Section, Table, Target, share
from benchmarks.rulesets import logsource_spread

TARGET_SHARE = 0.5  # stage 1 with 1,000 rules: at least half the decode ceiling
TARGET_WHAT = "Stage 1, 1,000 rules: service path vs orjson decode ceiling"
DETECT = "envelope decode + evaluate, nothing written"


def worker_command(
    ctx: Context, rules: int, *, seconds: float, rounds: int, only: list[str] | None = None
) -> list[str]:
    args = ["--rules", str(ctx.rules(rules)), "--events", str(ctx.recorded.envelopes)]
    args += ["--seconds", str(seconds), "--rounds", str(rounds)]
    if only:
        args += ["--only", *only]
    return pinned(python("benchmarks.stage1_worker", *args), WORKER_CORE)


def run(ctx: Context) -> Section:
    section = Section("2. Correlator stage 1 (detection)")
    budget = ctx.budget
    measured: dict[int, Table] = {}
    for count in budget.rule_counts:
        command = worker_command(ctx, count, seconds=budget.sample_seconds, rounds=budget.rounds)
        result = run_json(command, timeout=900)
        samples = {name: samples_from_json(data) for name, data in result["samples"].items()}
        produced = result["produced"]
        per_event = produced["alerts"] / produced["events"] if produced["events"] else 0.0
        table = Table(
            f"{count} rules ({result['rules']} loaded, {result['refused']} refused; by product: "
            f"{logsource_spread(ctx.rules(count))})",
            shown(command),
            [
                Row("decode (orjson.loads)", "events/s", samples["decode"]),
                Row("engine alone (DetectionEngine.evaluate)", "events/s", samples["engine"], "decode (orjson.loads)"),
                Row(DETECT, "events/s", samples["detect"], "decode (orjson.loads)"),
                Row(
                    "service path (DetectionHandler over Messages → MemoryBus)",
                    "events/s",
                    samples["handler"],
                    "decode (orjson.loads)",
                ),
            ],
            [
                f"rule loading took {result['load_seconds']:.1f} s (pySigma parse + compile; not in the rates)",
                f"{per_event:.3f} alerts per event on the service path ({produced['alerts']} alerts, "
                f"{produced['hits']} hits over {produced['events']} events)",
            ],
        )
        measured[count] = table
        section.tables.append(table)
    section.notes += [
        f"Recorded set: {ctx.recorded.count:,} envelopes drawn from {ctx.recorded.kinds} distinct corpus events "
        "(k8s audit 50 %, Linux lines 40 %, GitHub webhooks 10 %), parsed once by the services' parsers.",
        "Each sample is a time slice of the set (batches of 500, the service's consumer_max_records); variants "
        "alternate within each round, in one process pinned to one core.",
        "Rule sets are detection rules only (the corpus has no SigmaHQ correlation rules), so no hits are produced.",
    ]
    if 1000 in measured:
        _target(ctx, section, measured[1000])
    return section


def _target(ctx: Context, section: Section, table: Table) -> None:
    decode, detect, handler = table.rows[0], table.rows[2], table.rows[3]

    def judge(reference: float) -> Target:
        compared = share(handler, decode, reference)
        if compared is None:
            return Target(TARGET_WHAT, f"≥ {TARGET_SHARE:.0%}", "no samples", None)
        value, phase = compared
        met = value >= TARGET_SHARE
        gap = "" if met else f"{TARGET_SHARE / value:,.1f}× too slow ({value:.2%} of the ceiling)"
        # What is left once nothing is written: whether the writes or the detection itself are in the way.
        floor = share(detect, decode, reference)
        if floor is not None and not met:
            gap += f"; decode + evaluate alone reach {floor[0]:.0%} ({floor[1]} phase)"
        return Target(TARGET_WHAT, f"≥ {TARGET_SHARE:.0%} of decode", f"{value:.2%} ({phase} phase)", met, gap)

    section.targets.append(judge)
    if not ctx.smoke:
        command = worker_command(ctx, 1000, seconds=8, rounds=1, only=["handler"])
        profile = record(command, focus="Stage1.handle")
        section.profile += profile.markdown(
            f"stage 1 service path, 1,000 rules — `py-spy record --native -- {shown(command)}`"
        )
