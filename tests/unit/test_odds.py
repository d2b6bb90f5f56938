"""The pure draw rules (no Redis). The Lua scripts agreeing with them: tests/integration/test_odds_lua.py."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lottery.odds import RAND_RANGE, Availability, PrizeRule, decide, pick

RULES = [
    PrizeRule(id=1, weight=1, limited=True),
    PrizeRule(id=2, weight=30, limited=True, daily_stock=5),
    PrizeRule(id=3, weight=69, limited=True, per_user_cap=2),
    PrizeRule(id=4, weight=900, consolation=True),
]
EVERYTHING = Availability(stock_left={1: 10, 2: 10, 3: 10}, granted_today={}, user_wins={})


def test_pick_slices_follow_weights() -> None:
    # Points 0 .. total-1 map to prizes in order; the extremes of rand hit the ends.
    assert pick(RULES, 0).id == 1
    assert pick(RULES, RAND_RANGE - 1).id == 4
    # The first point of the second slice: rand * 1000 // 2**32 == 1.
    first_of_second = -(-RAND_RANGE // 1000)
    assert pick(RULES, first_of_second - 1).id == 1
    assert pick(RULES, first_of_second).id == 2


def test_pick_skips_zero_weights_and_rejects_bad_rand() -> None:
    rules = [PrizeRule(id=1, weight=0), PrizeRule(id=2, weight=5, consolation=True)]
    assert all(pick(rules, r).id == 2 for r in (0, 123456, RAND_RANGE - 1))
    with pytest.raises(ValueError):
        pick(rules, RAND_RANGE)
    with pytest.raises(ValueError):
        pick(rules, -1)


def test_unavailable_pick_falls_back_to_consolation() -> None:
    rand_for_1 = 0
    out_of_stock = Availability(stock_left={1: 0}, granted_today={}, user_wins={})
    assert decide(RULES, rand_for_1, out_of_stock) == (RULES[0], RULES[3])
    rand_for_2 = RAND_RANGE // 1000 * 10
    daily_gone = Availability(stock_left={2: 10}, granted_today={2: 5}, user_wins={})
    assert decide(RULES, rand_for_2, daily_gone) == (RULES[1], RULES[3])
    rand_for_3 = RAND_RANGE // 1000 * 50
    capped = Availability(stock_left={3: 10}, granted_today={}, user_wins={3: 2})
    assert decide(RULES, rand_for_3, capped) == (RULES[2], RULES[3])
    assert decide(RULES, rand_for_3, EVERYTHING) == (RULES[2], RULES[2])


def test_win_rates_match_weights_chi_square() -> None:
    """100k simulated draws with a fixed seed: chi-square against the weights."""
    rng = random.Random(20261124)
    draws = 100_000
    counts = {rule.id: 0 for rule in RULES}
    for _ in range(draws):
        counts[pick(RULES, rng.getrandbits(32)).id] += 1
    total_weight = sum(rule.weight for rule in RULES)
    chi2 = sum(
        (counts[rule.id] - draws * rule.weight / total_weight) ** 2 / (draws * rule.weight / total_weight)
        for rule in RULES
    )
    # 3 degrees of freedom; 16.27 is the 0.999 quantile. The seed is fixed, so this is stable.
    assert chi2 < 16.27, (chi2, counts)


def test_lua_pick_is_exact_at_slice_edges() -> None:
    """The arithmetic Lua uses (a double) equals Python's integers for every slice edge."""
    total = 2**21 - 1
    for edge in range(0, total, 9973):
        rand = -(-edge * RAND_RANGE // total)  # the smallest rand whose point is `edge`
        for r in (rand - 1, rand):
            if 0 <= r < RAND_RANGE:
                as_double = int(float(r) * float(total) / 4294967296.0)
                assert as_double == r * total // RAND_RANGE


@given(
    weights=st.lists(st.integers(min_value=0, max_value=5000), min_size=1, max_size=20).filter(lambda w: sum(w) > 0),
    rand=st.integers(min_value=0, max_value=RAND_RANGE - 1),
)
def test_pick_matches_a_reference_model(weights: list[int], rand: int) -> None:
    """Reference: lay the weights end to end on [0, total) and find the slot of the point."""
    rules = [PrizeRule(id=i, weight=w) for i, w in enumerate(weights)]
    point = rand * sum(weights) // RAND_RANGE
    expected = next(i for i in range(len(weights)) if point < sum(weights[: i + 1]))
    assert pick(rules, rand).id == expected
    assert pick(rules, rand).weight > 0  # a prize with weight 0 is never picked
