"""How samples taken in a noisy machine's fast and slow phases are compared (benchmarks/measure.py)."""

from __future__ import annotations

import pytest

from benchmarks.measure import Sample, paired_ratio

FAST, SLOW = 100.0, 50.0  # probe readings: the reference is FAST, a slow reading is under 80 % of it


@pytest.mark.parametrize(
    ("rounds", "expected"),
    [
        pytest.param(
            # (ours, peer) per round: the third round changed phase between its two samples and says nothing.
            [
                ((1000, FAST, FAST), (100, FAST, FAST)),
                ((500, SLOW, SLOW), (50, SLOW, SLOW)),
                ((1000, FAST, FAST), (25, SLOW, SLOW)),
            ],
            (10.0, 2, "one phase", ["fast", "slow", "mixed"]),
            id="a-round-that-changed-phase-is-left-out",
        ),
        pytest.param(
            [
                ((1000, FAST, FAST), (50, SLOW, SLOW)),
                ((600, FAST, SLOW), (100, FAST, FAST)),
                ((900, FAST, FAST), (100, SLOW, FAST)),
            ],
            (9.0, 3, "all", ["mixed", "mixed", "mixed"]),
            id="every-round-counts-when-none-shares-a-phase",
        ),
    ],
)
def test_paired_ratio_is_the_median_of_the_rounds_whose_samples_share_a_phase(
    rounds: list[tuple[tuple[float, float, float], tuple[float, float, float]]],
    expected: tuple[float, int, str, list[str]],
) -> None:
    paired = paired_ratio([Sample(*ours) for ours, _ in rounds], [Sample(*peer) for _, peer in rounds], FAST)
    assert paired is not None
    assert (paired.median, paired.used, paired.phase, [phase for _, phase in paired.rounds]) == expected


def test_paired_ratio_needs_a_peer_sample() -> None:
    assert paired_ratio([], [], FAST) is None
    assert paired_ratio([Sample(10, FAST, FAST)], [Sample(0, FAST, FAST)], FAST) is None
