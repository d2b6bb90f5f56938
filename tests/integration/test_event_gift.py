"""Event gifts: triggers and conditions, member days in the activity's zone, caps and a budget
never overspent under concurrency, once per event id, rewards delivered."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from event_gift.db import gift_firings
from tests.conftest import SHANGHAI, Env, wheel
from tests.integration.test_events import event, push


def gift_spec(**rules: Any) -> dict[str, Any]:
    event_gift: dict[str, Any] = {
        "trigger": {"event": "order_paid", "min_amount_cny": "200"},
        "reward": {"type": "points", "points": 50},
    }
    event_gift.update(rules)
    return {
        "type": "event_gift",
        "name": "Spend 200, get 50 points",
        "starts_at": "2026-05-01T00:00:00+08:00",
        "ends_at": "2026-07-01T00:00:00+08:00",
        "timezone": "Asia/Shanghai",
        "event_gift": event_gift,
    }


async def balance(env: Env, user: str) -> int:
    response = await env.client.get("/me/points", headers=env.player(user))
    return int(response.json()["balance"])


async def fired_in_sql(env: Env, activity_id: int) -> int:
    await env.platform.audit_writer.drain()
    async with env.platform.engine.connect() as conn:
        query = sa.select(sa.func.count()).where(gift_firings.c.activity_id == activity_id)
        return int((await conn.execute(query)).scalar_one())


async def test_order_paid_over_200_gives_points_once_per_event(env: Env) -> None:
    activity = await env.create(gift_spec())
    batch = [
        event("o1", "m1", "order_paid", amount=250),
        event("o2", "m1", "order_paid", amount=199.99),  # under the threshold
        event("s1", "m1", "shared"),  # another type
    ]
    assert (await push(env, batch)).json()["new"] == 3
    assert (await push(env, batch)).json()["new"] == 0  # replays fire nothing
    assert await balance(env, "m1") == 50
    assert await fired_in_sql(env, activity["id"]) == 1
    counters = (await env.client.get(f"/operator/activities/{activity['id']}/counters", headers=env.operator())).json()
    assert counters["fired_total"] == 1 and counters["fired_in_sql"] == 1


async def test_member_day_in_the_activity_time_zone(env: Env) -> None:
    # Every 1st of the month in Asia/Shanghai: 2026-05-31 16:30 UTC is already June 1st there.
    spec = gift_spec(trigger={"event": "shared", "member_day": {"day_of_month": 1}})
    activity = await env.create(spec)
    on_day = {**event("a", "m1", "shared"), "occurred_at": "2026-05-31T16:30:00+00:00"}  # 06-01 00:30 CST
    before = {**event("b", "m2", "shared"), "occurred_at": "2026-05-31T15:30:00+00:00"}  # 05-31 23:30 CST
    await push(env, [on_day, before])
    assert await balance(env, "m1") == 50 and await balance(env, "m2") == 0
    assert await fired_in_sql(env, activity["id"]) == 1
    bad = await env.client.post(
        "/operator/activities",
        json=gift_spec(trigger={"event": "shared", "member_day": {"day_of_month": 1, "weekday": 3}}),
        headers=env.operator(),
    )
    assert bad.status_code == 422 and bad.json()["code"] == "member_day_invalid"
    assert datetime(2026, 6, 1, tzinfo=SHANGHAI).isoweekday() == 1


async def test_500_concurrent_deliveries_for_one_member_never_over_grant(env: Env) -> None:
    activity = await env.create(gift_spec(caps={"per_member_daily": 2, "per_member_total": 3}))
    batches = [[event(f"c{i}", "m1", "order_paid", amount=300)] for i in range(500)]
    answers = await asyncio.gather(*(push(env, b) for b in batches))
    assert all(a.status_code == 200 for a in answers)
    assert await balance(env, "m1") == 2 * 50  # the daily cap
    env.clock.advance(days=1)
    later = [event(f"d{i}", "m1", "order_paid", amount=300) for i in range(20)]
    await asyncio.gather(*(push(env, [e]) for e in later))
    assert await balance(env, "m1") == 3 * 50  # the total cap
    assert await fired_in_sql(env, activity["id"]) == 3


async def test_a_budget_of_100_with_2000_members_grants_exactly_100(env: Env) -> None:
    activity = await env.create(gift_spec(caps={"budget_cny": "1000"}, reward_value_cny="10"))
    members = [f"m{i}" for i in range(2000)]
    batches = [[event(f"e{m}", m, "order_paid", amount=500) for m in members[i : i + 20]] for i in range(0, 2000, 20)]
    answers = await asyncio.gather(*(push(env, b) for b in batches))
    assert all(a.status_code == 200 for a in answers)
    assert await fired_in_sql(env, activity["id"]) == 100
    counters = (await env.client.get(f"/operator/activities/{activity['id']}/counters", headers=env.operator())).json()
    assert counters["budget_left"] == 0 and counters["fired_total"] == 100


async def test_chances_on_a_linked_lottery(env: Env) -> None:
    lottery = await env.create(wheel())
    await env.create(
        gift_spec(
            trigger={"event": "registered"},
            reward={"type": "chances", "chances": 2},
            linked_lottery_id=lottery["id"],
        )
    )
    await push(env, [event("r1", "new1", "registered")])
    draws = [await env.draw(lottery["id"], user="new1") for _ in range(3)]
    assert [d.status_code for d in draws] == [201, 201, 201]
    unlinked = await env.client.post(
        "/operator/activities", json=gift_spec(reward={"type": "chances", "chances": 1}), headers=env.operator()
    )
    assert unlinked.status_code == 422 and unlinked.json()["code"] == "linked_lottery_required"


async def test_rebuilt_from_sql_keeps_caps_budget_and_fired_events(env: Env) -> None:
    activity = await env.create(gift_spec(caps={"per_member_total": 1, "budget_units": 2}))
    await push(env, [event("o1", "m1", "order_paid", amount=300)])
    await env.platform.audit_writer.drain()
    await env.platform.redis.flushall()  # Redis lost everything: rebuilt from SQL
    again = await push(env, [event("o1", "m1", "order_paid", amount=300)])
    assert again.json()["new"] == 1  # events/ forgot the id with Redis...
    await push(env, [event("o2", "m1", "order_paid", amount=300)])  # ...the gift did not: nor the cap
    assert await balance(env, "m1") == 50
    await push(env, [event(f"x{i}", f"n{i}", "order_paid", amount=300) for i in range(5)])
    assert await fired_in_sql(env, activity["id"]) <= 2  # the budget, whatever the rebuild held back
