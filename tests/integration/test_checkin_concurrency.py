"""Many clients at once against real Redis, then the invariants: one sign-in per member and day,
one reward, make-ups within the limit and paid once, chances spent once, SQL rows = Redis."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime

import sqlalchemy as sa

from activities import db
from checkin.db import checkin_rewards, checkins
from lottery import db as lottery_db
from tests.conftest import SHANGHAI, Env, checkin_spec, wheel

MONDAY = datetime(2026, 6, 1, 9, 0, tzinfo=SHANGHAI)


async def sql_count(env: Env, table: sa.Table) -> int:
    async with env.platform.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


async def test_200_concurrent_sign_ins_of_one_member_give_one_sign_in_and_one_reward(env: Env) -> None:
    activity = await env.create(checkin_spec())
    env.clock.set(MONDAY)
    responses = await asyncio.gather(*(env.sign_in(activity["id"], "u1") for _ in range(200)))
    assert {r.status_code for r in responses} == {201}
    bodies = [r.json() for r in responses]
    assert Counter(b["replayed"] for b in bodies) == {False: 1, True: 199}
    assert len({b["mark_id"] for b in bodies}) == 1
    assert (await env.client.get("/me/points", headers=env.player())).json()["balance"] == 5
    await env.platform.audit_writer.drain()
    assert await sql_count(env, checkins) == 1
    assert await sql_count(env, checkin_rewards) == 1
    assert await sql_count(env, db.points_ledger) == 1


async def test_1000_members_signing_in_at_once_all_succeed_and_sql_equals_redis(env: Env) -> None:
    activity = await env.create(checkin_spec())
    env.clock.set(MONDAY)
    users = [f"m{i}" for i in range(1000)]
    responses = await asyncio.gather(*(env.sign_in(activity["id"], user) for user in users))
    assert Counter(r.status_code for r in responses) == {201: 1000}
    assert not any(r.json()["replayed"] for r in responses)
    await env.platform.audit_writer.drain()
    counters = await env.counters(activity["id"])
    assert counters["audit_backlog"] == 0
    assert counters["signins_total"] == counters["signins_today"] == counters["signins_in_sql"] == 1000
    assert counters["rewards_total"] == counters["rewards_in_sql"] == 1000
    async with env.platform.engine.connect() as conn:
        per_user = (
            await conn.execute(sa.select(checkins.c.user_id, sa.func.count()).group_by(checkins.c.user_id))
        ).all()
        credited = (
            await conn.execute(
                sa.select(sa.func.sum(db.points_ledger.c.delta)).where(db.points_ledger.c.reason == "checkin_reward")
            )
        ).scalar_one()
    assert len(per_user) == 1000 and all(n == 1 for _, n in per_user)
    assert credited == 5 * 1000


async def test_concurrent_make_ups_stay_within_the_limit_and_are_paid_once_each(env: Env) -> None:
    activity = await env.create(
        checkin_spec(checkin={"makeup": {"per_cycle": 2, "max_days_back": 6, "points_cost": 10}})
    )
    env.clock.set(MONDAY.replace(day=7))  # Sunday: Monday to Saturday can be made up
    headers = {**env.operator(), "Idempotency-Key": "g"}
    await env.client.post("/operator/members/u1/points", json={"amount": 100}, headers=headers)
    days = [f"2026-06-0{d}" for d in range(1, 7)]
    responses = await asyncio.gather(*(env.make_up(activity["id"], day) for day in days for _ in range(5)))
    made = {r.json()["day"] for r in responses if r.status_code == 201}
    assert len(made) == 2  # two make-ups a week, whatever the race
    # The others are refused: over the limit, or short of points while racing requests held them.
    assert {r.json()["code"] for r in responses if r.status_code != 201} <= {"makeup_limit", "points_insufficient"}
    assert (await env.client.get("/me/points", headers=env.player())).json()["balance"] == 100 - 2 * 10
    await env.platform.audit_writer.drain()
    history = (await env.client.get("/me/points/history?limit=200", headers=env.player())).json()["items"]
    charged = Counter(r["reason"] for r in history)
    assert charged["makeup_cost"] - charged["refund"] == 2
    counters = await env.counters(activity["id"])
    assert counters["makeups_total"] == counters["makeups_in_sql"] == 2


async def test_concurrent_draws_spend_each_chance_once(env: Env) -> None:
    lottery = await env.create(wheel(points_cost=50, limits={}))
    checkin = await env.create(
        checkin_spec(checkin={"daily_reward": {"type": "chances", "chances": 5}, "linked_lottery_id": lottery["id"]})
    )
    env.clock.set(MONDAY)
    assert (await env.sign_in(checkin["id"])).status_code == 201
    responses = await asyncio.gather(*(env.draw(lottery["id"], key=f"c{i}") for i in range(40)))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 5, 409: 35}  # five chances; no points for a paid draw
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"points_insufficient"}
    await env.platform.audit_writer.drain()
    async with env.platform.engine.connect() as conn:
        balance = (await conn.execute(sa.select(sa.func.sum(lottery_db.chance_ledger.c.delta)))).scalar_one()
    assert balance == 0
