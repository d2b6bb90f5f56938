"""Commit-reveal draws: derivation, commitment, and the mapping onto draw.lua's arithmetic."""

from __future__ import annotations

import math
import random

import pytest

from lottery.fairness import commitment, derive_point, derive_rand, matches, new_seed, rand_for_point
from lottery.odds import RAND_RANGE, PrizeRule, pick

SEED = bytes(range(32))


def test_commitment_is_sha256_of_the_seed_and_checks_back() -> None:
    seed = new_seed()
    assert len(seed) == 32 and len(commitment(seed)) == 64
    assert matches(seed, commitment(seed)) and matches(seed, commitment(seed).upper())
    assert not matches(new_seed(), commitment(seed))
    assert commitment(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_derivation_is_deterministic_and_depends_on_seed_and_draw() -> None:
    assert derive_point(SEED, "d1", 1000) == derive_point(SEED, "d1", 1000)
    points = {derive_point(SEED, f"d{i}", 2**20) for i in range(200)}
    assert len(points) > 190  # distinct draws, distinct points
    assert derive_point(SEED, "d1", 2**20) != derive_point(bytes(32), "d1", 2**20)
    with pytest.raises(ValueError):
        derive_point(SEED, "d1", 0)


def test_rand_for_point_lands_on_the_point_with_the_scripts_arithmetic() -> None:
    generator = random.Random(7)
    for _ in range(20_000):
        total = generator.randint(1, 2**21 - 1)
        point = generator.randrange(total)
        rand = rand_for_point(point, total)
        assert 0 <= rand < RAND_RANGE
        assert rand * total // RAND_RANGE == point  # what draw.lua and odds.pick compute
    assert rand_for_point(0, 7) == 0
    assert rand_for_point(6, 7) * 7 // RAND_RANGE == 6
    with pytest.raises(ValueError):
        rand_for_point(7, 7)


def test_the_derived_rand_picks_the_prize_of_the_derived_point() -> None:
    rules = [PrizeRule(1, 3), PrizeRule(2, 5), PrizeRule(3, 992, consolation=True)]
    for i in range(2000):
        point = derive_point(SEED, f"draw-{i}", 1000)
        expected = 1 if point < 3 else 2 if point < 8 else 3
        assert pick(rules, derive_rand(SEED, f"draw-{i}", 1000)).id == expected


def _chi2_sf_even_df(x: float, df: int) -> float:
    """P(X > x) for a chi-square with an even number of degrees of freedom (exact)."""
    assert df % 2 == 0
    half = x / 2
    return math.exp(-half) * sum(half**i / math.factorial(i) for i in range(df // 2))


@pytest.mark.slow
def test_chi_square_over_a_million_derived_draws() -> None:
    """10**6 draws with a fixed seed follow the weights (5 prizes: 4 degrees of freedom)."""
    weights = [1, 10, 100, 889, 1000]
    total = sum(weights)
    bounds = [sum(weights[: i + 1]) for i in range(len(weights))]
    counts = [0] * len(weights)
    draws = 1_000_000
    for i in range(draws):
        point = derive_point(SEED, f"chi-{i}", total)
        counts[next(k for k, bound in enumerate(bounds) if point < bound)] += 1
    chi2 = sum((c - draws * w / total) ** 2 / (draws * w / total) for c, w in zip(counts, weights, strict=True))
    p_value = _chi2_sf_even_df(chi2, len(weights) - 1)
    assert p_value > 0.001, (counts, chi2, p_value)
