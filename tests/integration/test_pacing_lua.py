"""draw.lua and grant.lua agree with lottery/odds.py on paced release and budgets: random release
counters, periods, budget spent and random numbers, the same (picked, won) and the same counters
after (as tests/integration/test_odds_lua.py does for stock and caps)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date

from lottery.keys import LotteryKeys
from lottery.odds import RAND_RANGE, Availability, PrizeRule, decide, is_available, pity_pick
from lottery.pacing import Periods, ReleasePlan, counter_field
from lottery.service import DrawService
from lottery.store import DrawRequest
from tests.conftest import Env, wheel

AGREE_DAY = date(2026, 6, 1)
HOURLY = ReleasePlan(per="hour", units=3, rollover=False)
DAILY = ReleasePlan(per="day", units=2, rollover=True)
BUDGET_FEN = 500_00


async def paced_pool(env: Env) -> tuple[int, list[PrizeRule]]:
    spec = wheel(
        limits={},
        budget_cny="500",
        prizes=[
            {"name": "Hourly", "type": "goods", "weight": 300, "stock": 50, "value_cny": "120.50",
             "release": {"per": "hour", "units": 3, "rollover": False}},
            {"name": "Daily", "type": "coupon", "weight": 300, "stock": 50, "value_cny": "20",
             "release": {"per": "day", "units": 2, "rollover": True}},
            {"name": "Dear", "type": "goods", "weight": 100, "stock": 50, "value_cny": "499.99"},
            {"name": "Free", "type": "coupon", "weight": 100, "stock": 50},
            {"name": "Thanks", "type": "thanks", "weight": 200},
        ],
    )  # fmt: skip
    activity = await env.create(spec)
    ids = [p["id"] for p in activity["prizes"]]
    rules = [
        PrizeRule(id=ids[0], weight=300, limited=True, value_fen=120_50, release=HOURLY),
        PrizeRule(id=ids[1], weight=300, limited=True, value_fen=20_00, release=DAILY),
        PrizeRule(id=ids[2], weight=100, limited=True, value_fen=499_99),
        PrizeRule(id=ids[3], weight=100, limited=True),
        PrizeRule(id=ids[4], weight=200, consolation=True),
    ]
    return activity["id"], rules


async def random_state(env: Env, activity_id: int, rules: list[PrizeRule], rng: random.Random) -> Availability:
    """Random periods, release counters around their limits and spending around the budget,
    written to Redis as the scripts read them."""
    at = Periods(hour=rng.choice([0, 1, 7]), day=rng.choice([0, 1, 3]))
    hourly, daily = rules[0], rules[1]
    paced = {
        counter_field(hourly.id, HOURLY, at): rng.choice([0, 2, 3]),
        counter_field(hourly.id, HOURLY, Periods(at.hour + 1, at.day)): 3,  # another hour's: irrelevant
        counter_field(daily.id, DAILY, at): rng.choice([0, 1, 2, 4, 6, 8]),
        "spent": rng.choice([0, 1, 379_50, 379_51, 480_00, 480_01, BUDGET_FEN]),
    }
    keys, redis = LotteryKeys(activity_id), env.platform.redis
    await redis.delete(keys.pacing)
    await redis.hset(keys.pacing, mapping=dict(paced.items()))
    await redis.hset(keys.stock, mapping={str(rule.id): 50 for rule in rules[:4]})
    stock = {rule.id: 50 for rule in rules[:4]}
    return Availability(
        stock_left=stock, granted_today={}, user_wins={}, paced=paced, periods=at, budget_fen=BUDGET_FEN
    )


async def test_draw_script_agrees_with_python_on_pacing_and_budget(env: Env) -> None:
    activity_id, rules = await paced_pool(env)
    rng = random.Random(18)
    store, keys = env.platform.service(DrawService).store, LotteryKeys(activity_id)
    for case in range(300):
        state = await random_state(env, activity_id, rules, rng)
        rand = rng.getrandbits(32) if case % 3 else (case * 7919) % RAND_RANGE
        reply = await store.draw(
            DrawRequest(
                activity_id=activity_id,
                user_id=f"p{case}",
                draw_id=f"pace-{case}",
                rand=rand,
                now_ms=env.clock.now_ms(),
                day=AGREE_DAY,
                day_ttl_ms=86_400_000,
                fingerprint="f",
                idempotency_key=f"k{case}",
                idempotency_ttl_s=60,
                periods=state.periods,
            )
        )
        assert reply.kind == "ok" and reply.record is not None
        picked, won = decide(rules, rand, state)
        assert (reply.record.picked_prize_id, reply.record.prize_id) == (picked.id, won.id), (case, rand, state)
        # The counters moved as the Python rule says: spent by the won prize's value, its release counter by 1.
        after = {k: int(v) for k, v in (await env.platform.redis.hgetall(keys.pacing)).items()}
        assert after["spent"] == state.paced["spent"] + won.value_fen
        if won.release is not None:
            field = counter_field(won.id, won.release, state.periods)
            assert after[field] == state.paced[field] + 1


async def test_grant_script_agrees_with_python_on_pacing_and_budget(env: Env) -> None:
    activity_id, rules = await paced_pool(env)
    consolation = rules[4].id
    rng = random.Random(81)
    store = env.platform.service(DrawService).store
    for case in range(150):
        state = await random_state(env, activity_id, rules, rng)
        wanted = rng.choice(rules[:4])
        reply = await store.grant(
            activity_id, f"g{case}", wanted.id, f"g{case}", env.clock.now_ms(), AGREE_DAY, 60_000, f"ref{case}", 60,
            periods=state.periods,
        )  # fmt: skip
        expected = wanted.id if is_available(wanted, state) else consolation
        assert (reply.kind, reply.prize_id, reply.picked_prize_id) == ("ok", expected, wanted.id), (case, state)


async def test_a_pity_guarantee_skips_prizes_past_their_release_or_the_budget(env: Env) -> None:
    """The pity rule (lottery/odds.py pity_pick) picks among available prizes: a paced-out or
    unaffordable prize is not among them, in the script as in Python."""
    spec = wheel(
        limits={},
        budget_cny="500",
        pity={"after": 2, "prizes": [0, 1, 2]},
        prizes=[
            {"name": "Hourly", "type": "goods", "weight": 30, "stock": 50, "value_cny": "120.50",
             "release": {"per": "hour", "units": 3, "rollover": False}},
            {"name": "Daily", "type": "coupon", "weight": 30, "stock": 50, "value_cny": "20",
             "release": {"per": "day", "units": 2, "rollover": True}},
            {"name": "Dear", "type": "goods", "weight": 10, "stock": 50, "value_cny": "499.99"},
            {"name": "Free", "type": "coupon", "weight": 10, "stock": 50},
            {"name": "Thanks", "type": "thanks", "weight": 920},
        ],
    )  # fmt: skip
    activity = await env.create(spec)
    activity_id, ids = activity["id"], [p["id"] for p in activity["prizes"]]
    rules = [
        PrizeRule(id=ids[0], weight=30, limited=True, value_fen=120_50, release=HOURLY, pity=True),
        PrizeRule(id=ids[1], weight=30, limited=True, value_fen=20_00, release=DAILY, pity=True),
        PrizeRule(id=ids[2], weight=10, limited=True, value_fen=499_99, pity=True),
        PrizeRule(id=ids[3], weight=10, limited=True),
        PrizeRule(id=ids[4], weight=920, consolation=True),
    ]
    keys, redis = LotteryKeys(activity_id), env.platform.redis
    store = env.platform.service(DrawService).store
    rng = random.Random(1518)
    guaranteed = 0
    for case in range(300):
        user = f"pp{case}"
        state = await random_state(env, activity_id, rules, rng)
        streak = rng.choice([0, 2, 2, 5])
        state = replace(state, streak=streak)
        await redis.hset(keys.pity, user, streak)
        rand = rng.getrandbits(32)
        reply = await store.draw(
            DrawRequest(
                activity_id=activity_id, user_id=user, draw_id=f"pp-{case}", rand=rand, now_ms=env.clock.now_ms(),
                day=AGREE_DAY, day_ttl_ms=86_400_000, fingerprint="f", idempotency_key=f"k{case}",
                idempotency_ttl_s=60, periods=state.periods,
            )
        )  # fmt: skip
        assert reply.kind == "ok" and reply.record is not None
        picked, won = decide(rules, rand, state, 2)
        assert (reply.record.picked_prize_id, reply.record.prize_id) == (picked.id, won.id), (case, rand, state)
        guaranteed += pity_pick(rules, rand, state, 2) is not None
    assert guaranteed > 50
