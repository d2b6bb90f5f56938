"""The pure draw rules, and the Lua script agreeing with them on the same random inputs."""

from __future__ import annotations

import random
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activities.keys import ActivityKeys
from lottery.odds import RAND_RANGE, Availability, PrizeRule, decide, is_available, pick
from lottery.store import DrawRequest
from tests.conftest import Env, wheel

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


AGREE_DAY = date(2026, 6, 1)


async def availability_pool(env: Env) -> tuple[int, list[PrizeRule]]:
    """A live wheel with one prize of each kind of limit, and the same prizes as PrizeRules."""
    spec = wheel(
        limits={},
        prizes=[
            {"name": "Top", "type": "goods", "weight": 1, "stock": 10},
            {"name": "Daily", "type": "coupon", "weight": 30, "stock": 10, "daily_stock": 5},
            {"name": "Capped", "type": "coupon", "weight": 69, "stock": 10, "per_user_cap": 2},
            {"name": "Thanks", "type": "thanks", "weight": 900},
        ],
    )
    activity = await env.create(spec)
    ids = [p["id"] for p in activity["prizes"]]
    rules = [
        PrizeRule(id=ids[0], weight=1, limited=True),
        PrizeRule(id=ids[1], weight=30, limited=True, daily_stock=5),
        PrizeRule(id=ids[2], weight=69, limited=True, per_user_cap=2),
        PrizeRule(id=ids[3], weight=900, consolation=True),
    ]
    return activity["id"], rules


async def random_availability(
    env: Env, activity_id: int, rules: list[PrizeRule], user: str, rng: random.Random
) -> Availability:
    """A random state around the limits, written to Redis for `user` as the scripts read it."""
    top, daily, capped = (rule.id for rule in rules[:3])
    state = Availability(
        stock_left={i: rng.choice([0, 1, 5]) for i in (top, daily, capped)},
        granted_today={daily: rng.choice([0, 4, 5])},
        user_wins={capped: rng.choice([0, 1, 2])},
    )
    keys, redis = ActivityKeys(activity_id), env.platform.redis
    await redis.hset(keys.stock, mapping={str(k): v for k, v in state.stock_left.items()})
    await redis.hset(keys.day(AGREE_DAY), mapping={str(daily): state.granted_today[daily]})
    await redis.hset(keys.user_prize, f"{user}|{capped}", state.user_wins[capped])
    return state


async def test_lua_agrees_with_python_on_the_same_inputs(env: Env) -> None:
    """Random states and random numbers: the script's (picked, won) equals odds.decide()."""
    activity_id, rules = await availability_pool(env)
    rng = random.Random(7)
    for case in range(400):
        user = f"agree{case}"
        state = await random_availability(env, activity_id, rules, user, rng)
        # Mostly random numbers, plus the exact slice edges where rounding would show.
        rand = rng.getrandbits(32) if case % 4 else (case * 977) % RAND_RANGE
        reply = await env.platform.draws.store.draw(
            DrawRequest(
                activity_id=activity_id,
                user_id=user,
                draw_id=f"agree-{case}",
                rand=rand,
                now_ms=env.clock.now_ms(),
                day=AGREE_DAY,
                day_ttl_ms=86_400_000,
                fingerprint="f",
                idempotency_key=f"k{case}",
                idempotency_ttl_s=60,
            )
        )
        assert reply.kind == "ok" and reply.record is not None
        picked, won = decide(rules, rand, state)
        assert (reply.record.picked_prize_id, reply.record.prize_id) == (picked.id, won.id), (case, rand, state)


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


async def test_grant_script_applies_the_same_availability_rule(env: Env) -> None:
    """grant.lua repeats draw.lua's availability checks (scripts cannot share code): it must
    agree with odds.is_available on random states, falling back to the consolation prize."""
    activity_id, rules = await availability_pool(env)
    consolation = rules[3].id
    rng = random.Random(11)
    for case in range(150):
        user, wanted = f"grant{case}", rng.choice(rules[:3])
        state = await random_availability(env, activity_id, rules, user, rng)
        reply = await env.platform.draws.store.grant(
            activity_id, user, wanted.id, f"g{case}", env.clock.now_ms(), AGREE_DAY, 60_000, f"ref{case}", 60
        )
        expected = wanted.id if is_available(wanted, state) else consolation
        assert (reply.kind, reply.prize_id, reply.picked_prize_id) == ("ok", expected, wanted.id), (case, state)
