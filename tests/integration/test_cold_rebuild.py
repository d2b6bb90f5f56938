"""A cold rebuild that does not grow with the campaign (issue 17): after Redis lost a lottery's
state, the rebuild reads the activity's counters from SQL aggregates (lottery_counts, kept by
triggers on draws) and loads each member from SQL on its first request. Whatever a member had
before the flush (limits, capped wins, chances, idempotency records, reward references) holds
after it."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa

from activities.audit_sql import insert_rows
from activities.clock import local_day
from lottery import db
from lottery.keys import LotteryKeys
from lottery.odds import RAND_RANGE
from lottery.service import DrawService
from lottery.snapshot import MemberState
from tests.conftest import Env, wheel


def _spec(**limits: int) -> dict[str, Any]:
    return wheel(
        limits=limits or {"per_user_daily": 2, "per_user_total": 3},
        prizes=[
            {"name": "Capped", "type": "coupon", "weight": 1000, "stock": 1000, "per_user_cap": 1},
            {"name": "Top", "type": "goods", "weight": 1, "stock": 5},
            {"name": "Thanks", "type": "thanks", "weight": 1},
        ],
    )


async def _flush(env: Env, activity_id: int | None = None) -> None:
    """Redis loses everything once the writer wrote everything; with `activity_id`, the lottery
    is rebuilt and the operator gives back the units the rebuild held back (nothing was lost)."""
    await env.platform.audit_writer.drain()
    await env.platform.redis.flushall()
    if activity_id is not None:
        await env.platform.activities.ensure_loaded(activity_id)
        await env.release_held(activity_id)


async def _grouped(env: Env, activity_id: int) -> dict[tuple[str, int], tuple[int, int]]:
    """(day, prize) -> (draws, units) grouped from the draws themselves."""
    draws = db.draws.c
    query = (
        sa.select(draws.day, draws.prize_id, sa.func.sum(sa.case((draws.kind != "grant", 1), else_=0)), sa.func.count())
        .where(draws.activity_id == activity_id)
        .group_by(draws.day, draws.prize_id)
    )
    async with env.platform.engine.connect() as conn:
        return {(str(d), int(p)): (int(n), int(u)) for d, p, n, u in (await conn.execute(query)).all()}


async def _counted(env: Env, activity_id: int) -> dict[tuple[str, int], tuple[int, int]]:
    counts = await env.platform.service(DrawService).repository.counts(activity_id)
    return {(c.day, c.prize_id): (c.draws, c.units) for c in counts if c.units}


async def test_lottery_counts_equal_the_draws_grouped_whoever_writes_them(env: Env) -> None:
    activity = await env.create(_spec(per_user_daily=50))
    draws = env.platform.service(DrawService)
    for i in range(12):
        assert (await env.draw(activity["id"], user=f"u{i % 3}")).status_code == 201
    await draws.grant_prize(activity["id"], "u9", activity["prizes"][1]["id"], "streak:1")
    await env.platform.audit_writer.drain()
    grouped = await _grouped(env, activity["id"])
    assert await _counted(env, activity["id"]) == grouped
    assert sum(u for _, u in grouped.values()) == 13 and sum(n for n, _ in grouped.values()) == 12
    # A second delivery of stored entries adds nothing; deleting rows takes them out.
    async with env.platform.engine.connect() as conn:
        rows = [dict(r._mapping) for r in (await conn.execute(sa.select(db.draws))).all()]
    await insert_rows(env.platform.engine, {db.draws: [{k: v for k, v in r.items() if k != "id"} for r in rows]})
    assert await _counted(env, activity["id"]) == grouped
    async with env.platform.engine.begin() as conn:
        await conn.execute(sa.delete(db.draws).where(db.draws.c.user_id == "u0"))
    assert await _counted(env, activity["id"]) == await _grouped(env, activity["id"])


async def test_a_published_lottery_loads_members_from_zero_a_rebuilt_one_lazily(env: Env) -> None:
    activity = await env.create(_spec(per_user_daily=50))
    keys = LotteryKeys(activity["id"])
    redis = env.platform.redis
    assert await redis.hget(keys.state, "lazy") == "0"
    for i in range(6):
        assert (await env.draw(activity["id"], user=f"u{i}")).status_code == 201
    before = await env.counters(activity["id"])
    await _flush(env)
    await env.platform.activities.ensure_loaded(activity["id"])
    # The rebuild wrote the activity's counters and nothing of any member.
    assert await redis.hget(keys.state, "lazy") not in (None, "0")
    assert await redis.hlen(keys.user_total) == 0 and await redis.hlen(keys.members) == 0
    await env.release_held(activity["id"])
    after = await env.counters(activity["id"])
    assert (after["draws_total"], after["draws_today"]) == (before["draws_total"], before["draws_today"])
    assert [p["stock_left"] for p in after["prizes"]] == [p["stock_left"] for p in before["prizes"]]
    # One member asks: that member alone is loaded.
    assert (await env.draw(activity["id"], user="u3")).status_code == 201
    assert await redis.hkeys(keys.members) == ["u3"]
    assert await redis.hget(keys.user_total, "u3") == "2"


async def test_limits_caps_chances_and_references_hold_across_a_flush(env: Env) -> None:
    activity = await env.create(_spec())
    activity_id = activity["id"]
    capped_id, top_id, _ = (p["id"] for p in activity["prizes"])
    draws = env.platform.service(DrawService)
    first = [await env.draw(activity_id, user="daily", key=f"k{i}") for i in range(2)]
    assert [r.status_code for r in first] == [201, 201] and first[0].json()["prize"]["id"] == capped_id
    assert await draws.credit_chances(activity_id, "lucky", 2, "checkin:1", "signin_reward") == 2
    assert (await env.draw(activity_id, user="lucky")).json()["kind"] == "chance"
    granted = await draws.grant_prize(activity_id, "streak", top_id, "streak:7")
    await _flush(env, activity_id)

    # The member at its daily limit is still refused; its first draw replays; its capped prize
    # (cap 1) is not won again.
    refused = await env.draw(activity_id, user="daily")
    assert refused.status_code == 429 and refused.json()["code"] == "user_daily_limit"
    replay = await env.draw(activity_id, user="daily", key="k0")
    assert replay.json()["replayed"] is True and replay.json()["draw_id"] == first[0].json()["draw_id"]
    # Chances: the balance is the ledger's; the credit of the same reference is a replay.
    assert await draws.chances_left(activity_id, "lucky") == 1
    assert await draws.credit_chances(activity_id, "lucky", 2, "checkin:1", "signin_reward") == 1
    assert (await env.draw(activity_id, user="lucky")).json()["kind"] == "chance"
    assert await draws.chances_left(activity_id, "lucky") == 0
    # A reward granted before the flush is not granted again.
    again = await draws.grant_prize(activity_id, "streak", top_id, "streak:7")
    assert again.grant_id == granted.grant_id
    # The cap (1): "capper" won the capped prize before the flush, never after it; the total
    # limit (3) counts the draws of every day, loaded from SQL the next day.
    won = [await env.draw(activity_id, user="capper")]
    await _flush(env, activity_id)
    won.append(await env.draw(activity_id, user="capper"))
    env.clock.advance(days=1)
    await _flush(env, activity_id)
    won.append(await env.draw(activity_id, user="capper"))
    assert [r.json()["prize"]["id"] == capped_id for r in won] == [True, False, False]
    await _flush(env, activity_id)
    total = await env.draw(activity_id, user="capper")
    assert total.status_code == 429 and total.json()["code"] == "user_total_limit"


async def test_a_crowd_of_cold_members_after_a_flush_keeps_every_limit(env: Env) -> None:
    activity = await env.create(_spec(per_user_daily=2))
    activity_id = activity["id"]
    members = [f"m{i}" for i in range(40)]
    for member in members:
        assert (await env.draw(activity_id, user=member)).status_code == 201
    await _flush(env)
    answers = await asyncio.gather(*[env.draw(activity_id, user=m) for m in members for _ in range(3)])
    assert Counter(r.status_code for r in answers) == {201: 40, 429: 80}
    await env.platform.audit_writer.drain()
    await env.release_held(activity_id)
    counters = await env.counters(activity_id)
    assert counters["draws_total"] == counters["draws_in_sql"] == 80
    assert all(p["granted"] == p["granted_in_sql"] for p in counters["prizes"])
    per_member = Counter(user for user, _ in await _member_rows(env, activity_id))
    assert set(per_member.values()) == {2}


async def _member_rows(env: Env, activity_id: int) -> list[tuple[str, int]]:
    query = sa.select(db.draws.c.user_id, db.draws.c.prize_id).where(db.draws.c.activity_id == activity_id)
    async with env.platform.engine.connect() as conn:
        return [(str(u), int(p)) for u, p in (await conn.execute(query)).all()]


async def test_a_member_load_overtaken_by_a_rebuild_changes_nothing(env: Env) -> None:
    activity = await env.create(_spec())
    assert (await env.draw(activity["id"], user="u1")).status_code == 201
    await _flush(env)
    await env.platform.activities.ensure_loaded(activity["id"])
    store = env.platform.service(DrawService).store
    token = await store.lazy_token(activity["id"])
    assert token not in (None, "0")
    await env.platform.redis.flushall()
    await env.platform.activities.ensure_loaded(activity["id"])  # another load, another token
    today = local_day(env.clock.now_ms(), (await env.platform.service(DrawService).lottery(activity["id"])).tz)
    outcome = await store.load_member(activity["id"], "u1", str(token), today, 60_000, MemberState(user_total=0))
    assert outcome == "stale"
    assert not await env.platform.redis.hexists(LotteryKeys(activity["id"]).members, "u1")
    # With the live token: the first load writes, a second one (another process) changes nothing.
    token = await store.lazy_token(activity["id"])
    loads = [MemberState(user_total=1, user_today=1), MemberState(user_total=7, user_today=7)]
    outcomes = [await store.load_member(activity["id"], "u1", str(token), today, 60_000, m) for m in loads]
    assert outcomes == ["ok", "loaded"]
    assert await env.platform.redis.hget(LotteryKeys(activity["id"]).user_total, "u1") == "1"


async def test_the_pity_counter_is_loaded_with_its_member(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pity after 3 consolation draws: two before the flush, one after it (loaded from SQL), and
    the fourth is the guaranteed one."""
    spec = wheel(
        limits={"per_user_daily": 10},
        prizes=[
            {"name": "Guaranteed", "type": "coupon", "weight": 10, "stock": 5},
            {"name": "Thanks", "type": "thanks", "weight": 990},
        ],
        pity={"after": 3, "prizes": [0]},
    )
    activity = await env.create(spec)
    activity_id, (prize_id, thanks_id) = activity["id"], [p["id"] for p in activity["prizes"]]
    monkeypatch.setattr("lottery.service.new_rand", lambda: RAND_RANGE - 1)  # always the consolation
    assert [(await env.draw(activity_id, user="p")).json()["prize"]["id"] for _ in range(2)] == [thanks_id] * 2
    await _flush(env, activity_id)
    third = await env.draw(activity_id, user="p")
    assert third.json()["prize"]["id"] == thanks_id
    assert await env.platform.redis.hget(LotteryKeys(activity_id).pity, "p") == "3"
    assert (await env.draw(activity_id, user="p")).json()["prize"]["id"] == prize_id
