"""How samples taken in a noisy machine's fast and slow phases are compared (benchmarks/measure.py)."""

from __future__ import annotations

from benchmarks.measure import Sample, paired_ratio

FAST, SLOW = 100.0, 50.0  # probe readings: the reference is FAST, a slow reading is under 80 % of it


def test_paired_ratio_counts_only_rounds_whose_two_samples_share_a_phase() -> None:
    """A round where the phase changed between ours and the peer's sample says nothing: it is left out."""
    ours = [Sample(1000, FAST, FAST), Sample(500, SLOW, SLOW), Sample(1000, FAST, FAST)]
    peer = [Sample(100, FAST, FAST), Sample(50, SLOW, SLOW), Sample(25, SLOW, SLOW)]
    paired = paired_ratio(ours, peer, FAST)
    assert paired is not None
    assert (paired.median, paired.used, paired.phase) == (10.0, 2, "one phase")
    assert paired.rounds == [(10.0, "fast"), (10.0, "slow"), (40.0, "mixed")]


def test_paired_ratio_falls_back_to_every_round_when_none_shares_a_phase() -> None:
    ours = [Sample(1000, FAST, FAST), Sample(600, FAST, SLOW), Sample(900, FAST, FAST)]
    peer = [Sample(50, SLOW, SLOW), Sample(100, FAST, FAST), Sample(100, SLOW, FAST)]
    paired = paired_ratio(ours, peer, FAST)
    assert paired is not None
    assert (paired.median, paired.used, paired.phase) == (9.0, 3, "all")


def test_paired_ratio_needs_a_peer_sample() -> None:
    assert paired_ratio([], [], FAST) is None
    assert paired_ratio([Sample(10, FAST, FAST)], [Sample(0, FAST, FAST)], FAST) is None
