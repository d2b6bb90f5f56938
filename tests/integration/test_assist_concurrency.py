"""Many clients at once against real Redis, then the invariants: exactly the helps needed count,
the prize is won once, the bargain ends at the floor, stock never goes below zero, SQL = Redis."""

from __future__ import annotations

import asyncio
from collections import Counter

import sqlalchemy as sa

from assist.db import assist_helps, assist_initiatives, assist_outcomes
from tests.conftest import Env, assist_spec


async def sql_count(env: Env, table: sa.Table) -> int:
    async with env.platform.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


async def test_300_helpers_at_once_on_an_initiative_needing_50(env: Env) -> None:
    activity = await env.create(assist_spec("bargain", assist={"helps_needed": 50}))
    started = await env.start(activity["id"])
    token = started.json()["share_token"]
    responses = await asyncio.gather(*(env.help(token, f"helper{i}") for i in range(300)))
    assert Counter(r.status_code for r in responses) == {201: 50, 409: 250}
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"initiative_completed"}
    helps = [r.json() for r in responses if r.status_code == 201]
    assert sorted(h["number"] for h in helps) == list(range(1, 51))
    assert [h["price_cny"] for h in helps if h["completed"]] == ["9.90"]  # completed once, at the floor
    assert sum(round(float(h["cut_cny"]) * 100) for h in helps) == 9900 - 990
    await env.platform.audit_writer.drain()
    counters = await env.counters(activity["id"])
    assert counters["helps_total"] == counters["helps_in_sql"] == 50
    assert counters["completed_total"] == counters["completed_in_sql"] == 1
    assert (counters["stock_left"], counters["open"]) == (9, 0)
    assert await sql_count(env, assist_helps) == 50 and await sql_count(env, assist_outcomes) == 1


async def test_concurrent_starts_give_one_initiative_per_member_and_never_oversell(env: Env) -> None:
    activity = await env.create(assist_spec("collect", assist={"prize": {"name": "Gift", "stock": 10}}))
    same = await asyncio.gather(*(env.start(activity["id"], "u1") for _ in range(40)))
    assert {r.status_code for r in same} == {201}
    assert len({r.json()["initiative_id"] for r in same}) == 1
    assert Counter(r.json()["replayed"] for r in same) == {False: 1, True: 39}
    others = await asyncio.gather(*(env.start(activity["id"], f"m{i}") for i in range(30)))
    assert Counter(r.status_code for r in others) == {201: 9, 409: 21}
    assert {r.json()["code"] for r in others if r.status_code == 409} == {"out_of_stock"}
    await env.platform.audit_writer.drain()
    counters = await env.counters(activity["id"])
    assert counters["stock_left"] == 0 and counters["initiatives_total"] == counters["initiatives_in_sql"] == 10
    assert await sql_count(env, assist_initiatives) == 10
