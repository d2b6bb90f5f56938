"""A/B assignment: stable, balanced on the declared shares (chi-square over 100,000 members), and
a skewed split caught by the SRM check."""

from __future__ import annotations

from collections import Counter

from analytics.ab import assign, bucket
from analytics.stats import chi_square_gof, sample_ratio_mismatch


def test_a_member_always_gets_the_same_variant() -> None:
    shares = [("control", 1), ("b", 1)]
    first = [assign("exp-1", f"m{i}", shares) for i in range(1000)]
    assert first == [assign("exp-1", f"m{i}", shares) for i in range(1000)]
    # Another salt reshuffles members independently.
    other = [assign("exp-2", f"m{i}", shares) for i in range(1000)]
    assert sum(a != b for a, b in zip(first, other, strict=True)) > 400


def test_assignment_is_balanced_on_the_declared_shares() -> None:
    shares = [("control", 50), ("b", 30), ("c", 20)]
    counts = Counter(assign("spring", f"member-{i}", shares) for i in range(100_000))
    observed = [counts[name] for name, _ in shares]
    _, p = chi_square_gof(observed, [50, 30, 20])
    assert p > 0.001, observed  # a fair hash passes; the seed is fixed, so this never flakes
    assert sample_ratio_mismatch(observed, [50, 30, 20])[1] is False


def test_a_skewed_split_is_a_sample_ratio_mismatch() -> None:
    shares = [("control", 1), ("b", 1)]
    counts = Counter(assign("spring", f"member-{i}", shares) for i in range(20_000))
    # A front end that drops 10% of variant b's members (a broken redirect, say).
    observed = [counts["control"], int(counts["b"] * 0.9)]
    assert sample_ratio_mismatch(observed, [1, 1])[1] is True


def test_bucket_is_uniform_in_the_unit_interval() -> None:
    values = [bucket("s", str(i)) for i in range(10_000)]
    assert min(values) >= 0 and max(values) < 1
    deciles = Counter(int(v * 10) for v in values)
    _, p = chi_square_gof([deciles[d] for d in range(10)], [1] * 10)
    assert p > 0.001
