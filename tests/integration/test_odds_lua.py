"""The Lua draw and grant scripts agreeing with the pure draw rules (lottery.odds, unit-tested in
tests/unit/test_odds.py) on the same random inputs, against real Redis."""

from __future__ import annotations

import random
from datetime import date

from lottery.keys import LotteryKeys
from lottery.odds import RAND_RANGE, Availability, PrizeRule, decide, is_available
from lottery.service import DrawService
from lottery.store import DrawRequest
from tests.conftest import Env, wheel

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
    keys, redis = LotteryKeys(activity_id), env.platform.redis
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
        reply = await env.platform.service(DrawService).store.draw(
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


async def test_grant_script_applies_the_same_availability_rule(env: Env) -> None:
    """grant.lua repeats draw.lua's availability checks (scripts cannot share code): it must
    agree with odds.is_available on random states, falling back to the consolation prize."""
    activity_id, rules = await availability_pool(env)
    consolation = rules[3].id
    rng = random.Random(11)
    for case in range(150):
        user, wanted = f"grant{case}", rng.choice(rules[:3])
        state = await random_availability(env, activity_id, rules, user, rng)
        reply = await env.platform.service(DrawService).store.grant(
            activity_id, user, wanted.id, f"g{case}", env.clock.now_ms(), AGREE_DAY, 60_000, f"ref{case}", 60
        )
        expected = wanted.id if is_available(wanted, state) else consolation
        assert (reply.kind, reply.prize_id, reply.picked_prize_id) == ("ok", expected, wanted.id), (case, state)
