"""Pity (保底) and unlock tiers, pure: the spec's rules and lottery/odds.py's decisions. The Lua
script agreeing with them: tests/integration/test_lottery_rules.py."""

from __future__ import annotations

import math
import random
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from activities.errors import PromoError
from activities.model import Activity, Audience
from lottery.model import Limits, Lottery, LotterySpec, PitySpec, Prize, validate_spec
from lottery.odds import RAND_RANGE, Availability, PrizeRule, decide, is_unlocked, next_streak, pick, pity_pick
from lottery.views import pity_view

WINDOW = {"starts_at": "2026-12-01T00:00:00+08:00", "ends_at": "2027-12-01T00:00:00+08:00"}
TOP = {"name": "Top", "type": "goods", "weight": 10, "stock": 5}
COUPON = {"name": "Coupon", "type": "coupon", "weight": 90, "stock": 100}
THANKS = {"name": "Thanks", "type": "thanks", "weight": 900}

RULES = [
    PrizeRule(id=1, weight=10, limited=True, pity=True),
    PrizeRule(id=2, weight=30, limited=True, per_user_cap=1, pity=True),
    PrizeRule(id=3, weight=60, limited=True, unlock_after=5),
    PrizeRule(id=4, weight=900, consolation=True),
]
STOCKED = {1: 10, 2: 10, 3: 10}


def _state(streak: int = 0, user_draws: int = 0, **more: Any) -> Availability:
    base: dict[str, Any] = {"stock_left": STOCKED, "granted_today": {}, "user_wins": {}}
    return Availability(**{**base, **more}, user_draws=user_draws, streak=streak)


def _code(prizes: list[dict[str, Any]], **more: Any) -> str:
    spec = msgspec.convert({"type": "wheel", "name": "W", **WINDOW, "prizes": prizes, **more}, LotterySpec)
    with pytest.raises(PromoError) as caught:
        validate_spec(spec)
    return caught.value.code


def test_the_spec_names_pity_prizes_by_position_and_tiers_within_reach() -> None:
    fine = {
        "type": "wheel",
        "name": "W",
        **WINDOW,
        "prizes": [TOP, COUPON, THANKS],
        "pity": {"after": 3, "prizes": [0, 1]},
    }
    validate_spec(msgspec.convert(fine, LotterySpec))
    assert _code([TOP, COUPON, THANKS], pity={"after": 3, "prizes": [3]}) == "pity_prize_unknown"
    assert _code([TOP, COUPON, THANKS], pity={"after": 3, "prizes": [2]}) == "pity_prize_consolation"
    assert _code([TOP, COUPON, THANKS], pity={"after": 3, "prizes": [0, 0]}) == "pity_prize_duplicate"
    assert _code([{**TOP, "weight": 0}, COUPON, THANKS], pity={"after": 3, "prizes": [0]}) == "pity_prize_zero_weight"
    assert _code([TOP, {**THANKS, "unlock_after_draws": 2}]) == "unlock_on_consolation"
    locked = {**TOP, "unlock_after_draws": 6}
    assert _code([locked, THANKS], limits={"per_user_total": 5}) == "unlock_beyond_total_limit"
    for bad in ({"after": 0, "prizes": [0]}, {"after": 2, "prizes": []}, {"after": 2}, {"after": 2, "prizes": [-1]}):
        body = {"type": "wheel", "name": "W", **WINDOW, "prizes": [TOP, THANKS], "pity": bad}
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(body, LotterySpec)


def test_a_locked_prize_falls_back_to_the_consolation_prize_until_the_kth_draw() -> None:
    rand_for_3 = RAND_RANGE // 1000 * 50  # point 50: prize 3's slice [40, 100)
    assert pick(RULES, rand_for_3).id == 3
    for draws_before, won in ((0, 4), (3, 4), (4, 3), (9, 3)):  # the 5th draw is the first unlocked
        assert decide(RULES, rand_for_3, _state(user_draws=draws_before)) == (RULES[2], RULES[won - 1])
    assert is_unlocked(RULES[0], _state()) and not is_unlocked(RULES[2], _state(user_draws=3))


def test_pity_guarantees_an_available_pity_prize_and_otherwise_draws_normally() -> None:
    consolation_rand = RAND_RANGE - 1
    assert decide(RULES, consolation_rand, _state(streak=2), pity_after=3) == (RULES[3], RULES[3])
    assert decide(RULES, consolation_rand, _state(streak=3), pity_after=3) == (RULES[1], RULES[1])
    assert decide(RULES, 0, _state(streak=7), pity_after=3) == (RULES[0], RULES[0])  # still counting: still pity
    assert decide(RULES, consolation_rand, _state(streak=3)) == (RULES[3], RULES[3])  # no pity rule
    capped = _state(streak=3, user_wins={2: 1})  # prize 2 at the member's cap: prize 1 only
    assert pity_pick(RULES, consolation_rand, capped, 3) == RULES[0]
    gone = _state(streak=3, stock_left={1: 0, 2: 10, 3: 10}, user_wins={2: 1})
    assert pity_pick(RULES, consolation_rand, gone, 3) is None
    assert decide(RULES, consolation_rand, gone, pity_after=3) == (RULES[3], RULES[3])  # a normal draw
    locked_pity = [RULES[0], PrizeRule(id=2, weight=30, limited=True, pity=True, unlock_after=9), *RULES[2:]]
    assert pity_pick(locked_pity, consolation_rand, _state(streak=3), 3) == RULES[0]  # a locked one is skipped
    assert next_streak(4, RULES[3]) == 5 and next_streak(4, RULES[2]) == 0


def test_the_guaranteed_pick_follows_the_pity_prizes_weights_chi_square() -> None:
    """100k guaranteed draws with a fixed seed: prizes 1 and 2 in the ratio 10 : 30."""
    rng = random.Random(1515)
    draws = 100_000
    counts = {1: 0, 2: 0}
    for _ in range(draws):
        won = pity_pick(RULES, rng.getrandbits(32), _state(streak=3), 3)
        assert won is not None
        counts[won.id] += 1
    expected = {1: draws * 10 / 40, 2: draws * 30 / 40}
    chi2 = sum((counts[i] - expected[i]) ** 2 / expected[i] for i in counts)
    assert chi2 < 10.83, (chi2, counts)  # 1 degree of freedom, the 0.999 quantile


def test_a_members_draws_under_pity_match_the_renewal_law() -> None:
    """One member, 200k draws in a row (stock never runs out): the share of guaranteed draws is
    c**N / (1 + c + ... + c**N) with c the consolation's odds, and the outcomes of the ordinary
    draws still follow the table (chi-square)."""
    rules = [
        PrizeRule(id=1, weight=1, pity=True),
        PrizeRule(id=2, weight=1),
        PrizeRule(id=3, weight=2, consolation=True),
    ]
    after, draws, rng = 2, 200_000, random.Random(77)
    streak, guaranteed = 0, 0
    ordinary = {1: 0, 2: 0, 3: 0}
    for _ in range(draws):
        state = Availability(stock_left={}, granted_today={}, user_wins={}, streak=streak)
        rand = rng.getrandbits(32)
        if pity_pick(rules, rand, state, after) is not None:
            guaranteed += 1
        else:
            ordinary[decide(rules, rand, state, after)[1].id] += 1
        streak = next_streak(streak, decide(rules, rand, state, after)[1])
    c = 0.5
    share = c**after / sum(c**k for k in range(after + 1))
    sd = math.sqrt(draws * share * (1 - share))
    assert abs(guaranteed - draws * share) < 4 * sd, (guaranteed, draws * share)
    n = sum(ordinary.values())
    expected = {1: n / 4, 2: n / 4, 3: n / 2}
    chi2 = sum((ordinary[i] - expected[i]) ** 2 / expected[i] for i in ordinary)
    assert chi2 < 13.82, (chi2, ordinary)  # 2 degrees of freedom, the 0.999 quantile


def test_the_disclosed_pity_rule_leaves_out_prizes_a_variant_weighs_zero() -> None:
    spec = msgspec.convert(
        {
            "type": "wheel",
            "name": "W",
            **WINDOW,
            "prizes": [TOP, COUPON, THANKS],
            "pity": {"after": 3, "prizes": [0, 1]},
        },
        LotterySpec,
    )
    prizes = [
        Prize(id=i + 1, name=p.name, type=p.type, weight=p.weight, stock=p.stock, daily_stock=None,
              per_user_cap=None, value_cny=Decimal(0), pity=i < 2)
        for i, p in enumerate(spec.prizes)
    ]  # fmt: skip
    activity = Activity(
        id=1, type="wheel", name="W", status="live", starts_at=spec.starts_at, ends_at=spec.ends_at,
        timezone=spec.timezone, skin=None, audience=Audience(),
    )  # fmt: skip
    lottery = Lottery.of(activity, Limits(), 0, prizes, pity_after=3)
    view = pity_view(lottery)
    assert view is not None and view.shares == {"1": "0.100000", "2": "0.900000"} and "last 3 draws" in view.rule
    assert lottery.pity == PitySpec(after=3, prizes=[0, 1])
    zeroed = msgspec.structs.replace(lottery, prizes=[msgspec.structs.replace(prizes[0], weight=0), *prizes[1:]])
    zeroed_view = pity_view(zeroed)
    assert zeroed_view is not None and list(zeroed_view.shares) == ["2"]
    none_left = msgspec.structs.replace(
        lottery, prizes=[msgspec.structs.replace(p, weight=0) if p.pity else p for p in prizes]
    )
    assert pity_view(none_left) is None
