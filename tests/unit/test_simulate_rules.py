"""Pity and unlock tiers in the simulator (lottery/simulate_rules.py): answers known in closed form."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from lottery.simulate import SimPrize, Traffic, simulate
from lottery.simulate_rules import rule_probs
from tests.unit.test_simulate import config

BIG = 10**9


def _prizes(unlock: int = 0, pity: bool = False) -> tuple[SimPrize, ...]:
    return (
        SimPrize(1, "a", 1, BIG, None, None, 1.0, 0, False, pity=pity),
        SimPrize(2, "b", 1, BIG, None, None, 1.0, 0, False, unlock_after=unlock),
        SimPrize(3, "thanks", 2, None, None, None, 0.0, 0, True),
    )


def test_without_rules_the_odds_stand() -> None:
    plain = config(*_prizes(), days=5)
    sample = np.ones((10, 5), dtype=np.int64)
    assert rule_probs(np.random.default_rng(1), plain, sample, np.array([0.25, 0.25, 0.5])) is None


def test_pity_follows_the_renewal_law() -> None:
    """Pity after 2 with the consolation at 1/2: a seventh of the draws are guaranteed (c**2 /
    (1 + c + c**2)), all of them prize a; the rest follow the table."""
    cfg = replace(config(*_prizes(pity=True), days=5), pity_after=2)
    runs = simulate(cfg, Traffic(members=2000, runs=20, draws_per_day=10, distribution="fixed", days=5, seed=3))
    shares = runs.wins.sum(axis=(0, 1)) / runs.wins.sum()
    g = 1 / 7
    assert shares == pytest.approx([(1 - g) / 4 + g, (1 - g) / 4, (1 - g) / 2], abs=0.005)


def test_a_tier_locks_a_prize_until_the_members_kth_draw() -> None:
    """One draw a day, prize b from the 3rd draw on: none on days 1 and 2, its odds after."""
    cfg = config(*_prizes(unlock=3), days=5)
    runs = simulate(cfg, Traffic(members=5000, runs=10, draws_per_day=1, distribution="fixed", days=5, seed=4))
    per_day = runs.wins.sum(axis=0) / runs.wins.sum(axis=(0, 2))[:, None]
    assert per_day[:2, 1].tolist() == [0.0, 0.0]
    assert per_day[2:, 1] == pytest.approx([0.25] * 3, abs=0.01)
    assert per_day[:2, 2] == pytest.approx([0.75, 0.75], abs=0.01)  # its share went to the consolation
