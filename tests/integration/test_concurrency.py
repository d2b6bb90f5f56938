"""Many clients at once against real Redis, then the invariants: no oversell, nobody above a
limit, SQL rows equal Redis counters."""

from __future__ import annotations

import asyncio
from collections import Counter

import sqlalchemy as sa

from lottery import db as lottery_db
from tests.conftest import Env, wheel

CLIENTS, USERS, TOP_STOCK, PER_USER_DAILY, CAP = 500, 50, 100, 9, 3


async def test_500_concurrent_clients_never_oversell(env: Env) -> None:
    spec = wheel(
        limits={"per_user_daily": PER_USER_DAILY, "global_daily": 1000},
        prizes=[
            # Picked about half the time: demand (~250) far above the stock (100).
            {"name": "Top", "type": "goods", "weight": 500, "stock": TOP_STOCK, "value_cny": 3000},
            {"name": "Capped", "type": "coupon", "weight": 300, "stock": 10_000, "per_user_cap": CAP},
            {"name": "Thanks", "type": "thanks", "weight": 200},
        ],
    )
    activity = await env.create(spec)
    activity_id = activity["id"]
    top_id, capped_id, thanks_id = (p["id"] for p in activity["prizes"])

    responses = await asyncio.gather(
        *(env.draw(activity_id, user=f"user{i % USERS}", key=f"c{i}") for i in range(CLIENTS))
    )
    statuses = Counter(r.status_code for r in responses)
    wins = [r.json() for r in responses if r.status_code == 201]
    # 50 users x 9 draws a day = 450 draws; the other 50 requests hit the daily limit.
    assert statuses == {201: USERS * PER_USER_DAILY, 429: CLIENTS - USERS * PER_USER_DAILY}, statuses
    assert all(r.json()["code"] == "user_daily_limit" for r in responses if r.status_code == 429)

    won = Counter(w["prize"]["id"] for w in wins)
    assert won[top_id] == TOP_STOCK  # exactly the stock: never more, and demand exceeded it
    per_user = Counter(r.request.headers["authorization"] for r, _ in _pairs(responses))
    assert max(per_user.values()) == PER_USER_DAILY
    per_user_capped = Counter(
        r.request.headers["authorization"] for r, w in _pairs(responses) if w["prize"]["id"] == capped_id
    )
    assert max(per_user_capped.values()) <= CAP
    assert len({w["draw_id"] for w in wins}) == len(wins)

    counters = await env.counters(activity_id)
    by_id = {p["prize_id"]: p for p in counters["prizes"]}
    assert by_id[top_id]["stock_left"] == 0
    assert by_id[top_id]["granted"] == TOP_STOCK
    assert counters["draws_total"] == counters["draws_today"] == len(wins)

    # After the writer drains, SQL holds exactly what Redis counted.
    await env.platform.audit_writer.drain()
    counters = await env.counters(activity_id)
    assert counters["audit_backlog"] == 0
    assert counters["draws_in_sql"] == counters["draws_total"]
    for prize in counters["prizes"]:
        assert prize["granted_in_sql"] == prize["granted"], prize
    assert by_id[thanks_id]["granted"] + by_id[capped_id]["granted"] + TOP_STOCK == len(wins)
    async with env.platform.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(lottery_db.draws.c.user_id, sa.func.count()).group_by(lottery_db.draws.c.user_id)
            )
        ).all()
    assert len(rows) == USERS and all(n == PER_USER_DAILY for _, n in rows)


async def test_global_daily_cap_holds_under_concurrency(env: Env) -> None:
    activity = await env.create(wheel(limits={"global_daily": 37}))
    responses = await asyncio.gather(*(env.draw(activity["id"], user=f"g{i}") for i in range(120)))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 37, 429: 83}
    assert {r.json()["code"] for r in responses if r.status_code == 429} == {"global_daily_limit"}


def _pairs(responses):
    return [(r, r.json()) for r in responses if r.status_code == 201]
