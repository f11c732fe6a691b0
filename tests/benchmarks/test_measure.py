"""How samples taken in a noisy machine's fast and slow phases are compared (benchmarks/measure.py)."""

from __future__ import annotations

import pytest

from benchmarks.measure import Sample, paired_ratio

FAST, SLOW = 100.0, 50.0  # probe readings: the reference is FAST, a slow reading is under 80 % of it
# A sample's two probes, by the phase it was taken in ("fast>slow": the phase changed during it).
PROBES = {"fast": (FAST, FAST), "slow": (SLOW, SLOW), "fast>slow": (FAST, SLOW), "slow>fast": (SLOW, FAST)}


@pytest.mark.parametrize(
    ("rounds", "expected"),
    [
        pytest.param(
            # Per round (ours, its phase, the peer, its phase): the third round's two samples differ in phase.
            [(1000, "fast", 100, "fast"), (500, "slow", 50, "slow"), (1000, "fast", 25, "slow")],
            (10.0, 2, "one phase", ["fast", "slow", "mixed"]),
            id="a-round-that-changed-phase-is-left-out",
        ),
        pytest.param(
            [(1000, "fast", 50, "slow"), (600, "fast>slow", 100, "fast"), (900, "fast", 100, "slow>fast")],
            (9.0, 3, "all", ["mixed", "mixed", "mixed"]),
            id="every-round-counts-when-none-shares-a-phase",
        ),
    ],
)
def test_paired_ratio_is_the_median_of_the_rounds_whose_samples_share_a_phase(
    rounds: list[tuple[float, str, float, str]], expected: tuple[float, int, str, list[str]]
) -> None:
    ours = [Sample(rate, *PROBES[phase]) for rate, phase, _, _ in rounds]
    peer = [Sample(rate, *PROBES[phase]) for _, _, rate, phase in rounds]
    paired = paired_ratio(ours, peer, FAST)
    assert paired is not None
    assert (paired.median, paired.used, paired.phase, [phase for _, phase in paired.rounds]) == expected


def test_paired_ratio_needs_a_peer_sample() -> None:
    assert paired_ratio([], [], FAST) is None
    assert paired_ratio([Sample(10, FAST, FAST)], [Sample(0, FAST, FAST)], FAST) is None
