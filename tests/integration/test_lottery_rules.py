"""Pity (保底) and unlock tiers against real Redis: draw.lua agrees with lottery/odds.py on the
same random inputs (the pity path included), the pity counter comes back from SQL after a flush,
and the public view discloses both rules."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa

from lottery import db as lottery_db
from lottery.keys import LotteryKeys
from lottery.odds import RAND_RANGE, Availability, PrizeRule, decide, next_streak, pity_pick
from lottery.service import DrawService
from lottery.store import DrawRequest
from tests.conftest import Env, wheel
from tests.integration.test_odds_lua import AGREE_DAY

PITY_AFTER = 3


def _spec(**more: Any) -> dict[str, Any]:
    return wheel(
        limits={},
        prizes=[
            {"name": "Top", "type": "goods", "weight": 5, "stock": 10},
            {"name": "Daily", "type": "coupon", "weight": 30, "stock": 10, "daily_stock": 5},
            {"name": "Capped", "type": "coupon", "weight": 65, "stock": 10, "per_user_cap": 2, "unlock_after_draws": 4},
            {"name": "Late", "type": "coupon", "weight": 100, "stock": 10, "unlock_after_draws": 3},
            {"name": "Thanks", "type": "thanks", "weight": 800},
        ],
        **({"pity": {"after": PITY_AFTER, "prizes": [0, 1, 2]}} | more),
    )


async def test_lua_agrees_with_python_on_pity_and_tiers(env: Env) -> None:
    """Random states (stock, today's stock, caps, the member's draws so far, their consolation
    streak) and random numbers: the script's (picked, won), its new streak and its pity mark
    equal odds.decide() and odds.next_streak()."""
    activity = await env.create(_spec())
    activity_id, ids = activity["id"], [p["id"] for p in activity["prizes"]]
    rules = [
        PrizeRule(id=ids[0], weight=5, limited=True, pity=True),
        PrizeRule(id=ids[1], weight=30, limited=True, daily_stock=5, pity=True),
        PrizeRule(id=ids[2], weight=65, limited=True, per_user_cap=2, unlock_after=4, pity=True),
        PrizeRule(id=ids[3], weight=100, limited=True, unlock_after=3),
        PrizeRule(id=ids[4], weight=800, consolation=True),
    ]
    keys, redis = LotteryKeys(activity_id), env.platform.redis
    store = env.platform.service(DrawService).store
    rng = random.Random(15)
    guaranteed = 0
    for case in range(500):
        user = f"pity{case}"
        state = Availability(
            stock_left={i: rng.choice([0, 1, 5]) for i in ids[:4]},
            granted_today={ids[1]: rng.choice([0, 4, 5])},
            user_wins={ids[2]: rng.choice([0, 1, 2])},
            user_draws=rng.choice([0, 1, 2, 3, 7]),
            streak=rng.choice([0, 1, 2, 3, 3, 3, 4, 9]),
        )
        await redis.hset(keys.stock, mapping={str(k): v for k, v in state.stock_left.items()})
        await redis.hset(keys.day(AGREE_DAY), mapping={str(ids[1]): state.granted_today[ids[1]]})
        await redis.hset(keys.user_prize, f"{user}|{ids[2]}", state.user_wins[ids[2]])
        await redis.hset(keys.user_total, user, state.user_draws)
        await redis.hset(keys.pity, user, state.streak)
        rand = rng.getrandbits(32) if case % 4 else (case * 977) % RAND_RANGE
        reply = await store.draw(
            DrawRequest(
                activity_id=activity_id,
                user_id=user,
                draw_id=f"pity-{case}",
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
        picked, won = decide(rules, rand, state, PITY_AFTER)
        assert (reply.record.picked_prize_id, reply.record.prize_id) == (picked.id, won.id), (case, rand, state)
        assert int(await redis.hget(keys.pity, user) or 0) == next_streak(state.streak, won), (case, state)
        last = [fields for _, fields in await redis.xrevrange(keys.events, count=1) or []]
        marked = bool(last and last[0] and last[0].get("pity") == "1")
        assert marked == (pity_pick(rules, rand, state, PITY_AFTER) is not None), (case, last)
        guaranteed += marked
    assert guaranteed > 50  # the pity path was exercised


def _forced(monkeypatch: pytest.MonkeyPatch, rands: list[int]) -> None:
    """The engine's random numbers, in order (the last one repeats); derived from the lottery's
    seed since issue 18, so the derivation is what is forced."""

    def forced() -> int:
        return rands.pop(0) if len(rands) > 1 else rands[0]

    monkeypatch.setattr("lottery.service.new_rand", forced)
    monkeypatch.setattr("lottery.service.derive_rand", lambda *_: forced())


async def test_pity_counter_survives_a_flush_and_the_guarantee_is_audited(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    activity = await env.create(_spec())
    activity_id, ids = activity["id"], [p["id"] for p in activity["prizes"]]
    thanks = RAND_RANGE - 1  # the last slice: the consolation prize
    top = 0  # the first slice: Top
    # u1: two consolations. u2: a consolation, a win (the count restarts), two consolations.
    _forced(monkeypatch, [thanks, thanks, thanks, top, thanks, thanks])
    for user in ("u1", "u1", "u2", "u2", "u2", "u2"):
        assert (await env.draw(activity_id, user)).status_code == 201
    keys = LotteryKeys(activity_id)
    assert await env.platform.redis.hgetall(keys.pity) == {"u1": "2", "u2": "2"}
    await env.platform.audit_writer.drain()

    await env.platform.redis.flushall()
    _forced(monkeypatch, [thanks])
    assert (await env.draw(activity_id, "u3")).status_code == 201  # the rebuild (fails closed)
    await env.release_held(activity_id)
    # The rebuild loads no member: each member's counter comes back from SQL with its first
    # request (lottery/members.py; repository.consolation_streaks is the same count for all).
    assert await env.platform.redis.hgetall(keys.pity) == {"u3": "1"}
    streaks = await env.platform.service(DrawService).repository.consolation_streaks(activity_id, ids[-1])
    assert streaks == {"u1": 2, "u2": 2}

    third = await env.draw(activity_id, "u1")
    assert third.json()["prize"]["is_consolation"] is True  # the third in a row
    fourth = await env.draw(activity_id, "u1")
    # Guaranteed: the pity prizes' last slice (the same rand), Capped, unlocked from the 4th draw on.
    assert fourth.json()["prize"]["id"] == ids[2]
    assert await env.platform.redis.hget(keys.pity, "u1") is None  # a win restarts the count
    await env.platform.audit_writer.drain()
    async with env.platform.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(lottery_db.draws.c.draw_id, lottery_db.draws.c.pity).where(
                    lottery_db.draws.c.activity_id == activity_id
                )
            )
        ).all()
    assert {d for d, pity in rows if pity} == {fourth.json()["draw_id"]}


async def test_the_public_view_discloses_pity_and_tiers(env: Env) -> None:
    activity = await env.create(_spec())
    view = (await env.client.get(f"/activities/{activity['id']}", headers=env.player())).json()
    pity = view["pity"]
    ids = [p["id"] for p in view["prizes"]]
    assert pity["after"] == PITY_AFTER and pity["prize_ids"] == ids[:3]
    assert pity["shares"] == {str(ids[0]): "0.050000", str(ids[1]): "0.300000", str(ids[2]): "0.650000"}
    assert "last 3 draws" in pity["rule"] and "Top (5.00%)" in pity["rule"]
    late = view["prizes"][3]
    assert late["unlock_after_draws"] == 3 and "draw number 3" in late["unlock_rule"]
    assert view["prizes"][0]["unlock_after_draws"] is None and view["prizes"][0]["unlock_rule"] is None
    plain = await env.create(wheel())
    assert (await env.client.get(f"/activities/{plain['id']}", headers=env.player())).json()["pity"] is None
    # Edit and clone keep the rules (the spec read back from SQL names the pity prizes by position).
    draft = await env.create(_spec(), publish=False)
    path = f"/operator/activities/{draft['id']}"
    edited = await env.client.patch(path, json={"name": "Renamed"}, headers=env.operator())
    assert edited.status_code == 200, edited.text
    assert edited.json()["pity"]["after"] == PITY_AFTER and edited.json()["prizes"][3]["unlock_after_draws"] == 3


@pytest.mark.parametrize(
    ("pity", "code"),
    [
        ({"after": 2, "prizes": [9]}, "pity_prize_unknown"),
        ({"after": 2, "prizes": [4]}, "pity_prize_consolation"),
        ({"after": 2, "prizes": [1, 1]}, "pity_prize_duplicate"),
        ({"after": 0, "prizes": [1]}, "invalid_body"),
    ],
)
async def test_a_bad_pity_rule_is_refused_with_its_code(env: Env, pity: dict[str, Any], code: str) -> None:
    response = await env.client.post("/operator/activities", json=_spec(pity=pity), headers=env.operator())
    assert response.status_code == 422 and response.json()["code"] == code, response.text


async def test_concurrent_draws_keep_the_pity_counter_and_the_stock_exact(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """80 members x 3 draws, all 240 at once, every random number on the consolation prize, pity
    after 2 on a prize with 30 units: each member's third draw (whichever request it is) is the
    guaranteed one while units last, so exactly 30 are won, never more; the others keep counting.
    Then the invariants: the pity counter of each member in Redis equals its rebuild from SQL."""
    members, stock = 80, 30
    spec = wheel(
        limits={"per_user_daily": 3},
        prizes=[
            {"name": "Guaranteed", "type": "coupon", "weight": 10, "stock": stock},
            {"name": "Thanks", "type": "thanks", "weight": 990},
        ],
        pity={"after": 2, "prizes": [0]},
    )
    activity = await env.create(spec)
    activity_id, (prize_id, thanks_id) = activity["id"], [p["id"] for p in activity["prizes"]]
    _forced(monkeypatch, [RAND_RANGE - 1])
    responses = await asyncio.gather(
        *(env.draw(activity_id, f"c{m}", key=f"k{m}-{i}") for m in range(members) for i in range(3))
    )
    assert all(r.status_code == 201 for r in responses)
    won = Counter(r.json()["prize"]["id"] for r in responses)
    assert won == {prize_id: stock, thanks_id: 3 * members - stock}
    keys = LotteryKeys(activity_id)
    streaks = {u: int(n) for u, n in (await env.platform.redis.hgetall(keys.pity)).items()}
    assert sorted(streaks.values()) == [3] * (members - stock)  # the winners' counters restarted
    await env.platform.audit_writer.drain()
    repository = env.platform.service(DrawService).repository
    assert await repository.consolation_streaks(activity_id, thanks_id) == streaks
    async with env.platform.engine.connect() as conn:
        pity_rows = (
            await conn.execute(
                sa.select(sa.func.count()).where(
                    lottery_db.draws.c.activity_id == activity_id, lottery_db.draws.c.pity.is_(True)
                )
            )
        ).scalar_one()
    assert pity_rows == stock
