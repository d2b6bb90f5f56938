"""Paced release and budgets against real Redis (lottery/pacing.py): many clients at once never
take a period beyond its release or the activity beyond its budget; the counters survive a
flush (rebuilt from SQL, held back until an operator's word); the views disclose the plans."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from lottery import db as lottery_db
from lottery.pacing import HOUR_MS
from tests.conftest import NOW, Env, wheel

CLIENTS = 500


async def _rows(env: Env, activity_id: int) -> list[Any]:
    await env.platform.audit_writer.drain()
    draws = lottery_db.draws
    async with env.platform.engine.connect() as conn:
        query = sa.select(draws.c.prize_id, draws.c.drawn_at_ms, draws.c.day, draws.c.cost_fen).where(
            draws.c.activity_id == activity_id
        )
        return list((await conn.execute(query)).all())


async def _burst(env: Env, activity_id: int, tag: str, clients: int = CLIENTS) -> Counter[int]:
    responses = await asyncio.gather(*(env.draw(activity_id, user=f"{tag}{i}") for i in range(clients)))
    assert all(r.status_code == 201 for r in responses), Counter(r.status_code for r in responses)
    return Counter(r.json()["prize"]["id"] for r in responses)


def _paced_wheel(release: dict[str, Any], **more: Any) -> dict[str, Any]:
    return wheel(
        starts_at=(NOW - timedelta(hours=1)).isoformat(),  # hour 0 is 11:00, day 0 is 1 June
        limits={},
        prizes=[
            {"name": "Top", "type": "goods", "weight": 600, "stock": 1000, "value_cny": 100, "release": release},
            {"name": "Coupon", "type": "coupon", "weight": 100, "stock": 100_000, "value_cny": 1},
            {"name": "Thanks", "type": "thanks", "weight": 300},
        ],
        **more,
    )


async def test_no_hour_ever_grants_more_than_released_under_500_concurrent_draws(env: Env) -> None:
    activity = await env.create(_paced_wheel({"per": "hour", "units": 7, "rollover": False}))
    activity_id, top = activity["id"], activity["prizes"][0]["id"]
    for hour in range(3):  # three hours, 500 members at once in each (demand ~300 a burst)
        won = await _burst(env, activity_id, f"h{hour}-")
        assert won[top] == 7, won  # exactly the hour's release: demand far exceeded it
        counters = await env.counters(activity_id)
        paced = next(p for p in counters["prizes"] if p["prize_id"] == top)
        assert (paced["released"], paced["release_counted"]) == (7, 7)
        env.clock.advance(minutes=61)  # into the next clock hour: 12:00, 13:01, 14:02
    rows = await _rows(env, activity_id)
    per_hour = Counter(at // HOUR_MS for prize, at, _, _ in rows if prize == top)
    assert sorted(per_hour.values()) == [7, 7, 7] and len(rows) == 3 * CLIENTS


async def test_rollover_releases_what_earlier_hours_left_at_once(env: Env) -> None:
    activity = await env.create(_paced_wheel({"per": "hour", "units": 5, "rollover": True}))
    activity_id, top = activity["id"], activity["prizes"][0]["id"]
    # 12:00 is hour 1: 10 units released so far (hour 0 drew nothing).
    assert (await _burst(env, activity_id, "a"))[top] == 10
    env.clock.advance(hours=2)  # hour 3: 20 released, 10 granted
    assert (await _burst(env, activity_id, "b"))[top] == 10
    counters = await env.counters(activity_id)
    paced = next(p for p in counters["prizes"] if p["prize_id"] == top)
    assert (paced["released"], paced["release_counted"], paced["granted"]) == (20, 20, 20)


async def test_daily_release_in_the_activitys_zone(env: Env) -> None:
    activity = await env.create(_paced_wheel({"per": "day", "units": 12, "rollover": False}))
    activity_id, top = activity["id"], activity["prizes"][0]["id"]
    assert (await _burst(env, activity_id, "d0-", 200))[top] == 12
    env.clock.set(datetime(2026, 6, 1, 23, 59, tzinfo=NOW.tzinfo))  # still 1 June in Shanghai
    assert (await _burst(env, activity_id, "d0b-", 100))[top] == 0
    env.clock.set(datetime(2026, 6, 2, 0, 1, tzinfo=NOW.tzinfo))  # local midnight passed (16:01 UTC)
    assert (await _burst(env, activity_id, "d1-", 200))[top] == 12
    days = Counter(day for prize, _, day, _ in await _rows(env, activity_id) if prize == top)
    assert days == {"2026-06-01": 12, "2026-06-02": 12}


async def test_the_budget_is_never_overspent_under_500_concurrent_draws(env: Env) -> None:
    spec = wheel(
        limits={},
        budget_cny="1000.00",
        prizes=[
            {"name": "Speaker", "type": "goods", "weight": 600, "stock": 1000, "value_cny": "30.00"},
            {"name": "Coupon", "type": "coupon", "weight": 300, "stock": 1000, "value_cny": "7.50"},
            {"name": "Thanks", "type": "thanks", "weight": 100},
        ],
    )
    activity = await env.create(spec)
    activity_id = activity["id"]
    speaker, coupon, _ = (p["id"] for p in activity["prizes"])
    won = await _burst(env, activity_id, "b")
    spent = won[speaker] * Decimal(30) + won[coupon] * Decimal("7.5")
    # Never above the budget, and demand (~9,000 CNY) drove it to within the cheapest prize of it.
    assert Decimal(1000) - Decimal("7.5") < spent <= Decimal(1000), won
    counters = await env.counters(activity_id)
    assert counters["budget_cny"] == "1000.00"
    assert Decimal(counters["budget_spent_cny"]) == spent
    assert Decimal(counters["budget_left_cny"]) == Decimal(1000) - spent
    rows = await _rows(env, activity_id)
    assert sum(cost for _, _, _, cost in rows) == int(spent * 100)
    assert (await env.counters(activity_id))["budget_spent_in_sql_cny"] == counters["budget_spent_cny"]
    # The analytics overview (analytics/reports.py) compares the campaign's cost with the budget.
    report = await env.client.get(f"/operator/activities/{activity_id}/reports/overview", headers=env.operator())
    assert report.status_code == 200, report.text
    assert report.json()["totals"]["budget_cny"] == "1000.00"


async def test_pacing_and_budget_are_rebuilt_from_sql_after_a_flush(env: Env) -> None:
    spec = _paced_wheel({"per": "hour", "units": 4, "rollover": False}, budget_cny="700")
    activity = await env.create(spec)
    activity_id, top, coupon = activity["id"], activity["prizes"][0]["id"], activity["prizes"][1]["id"]
    won = await _burst(env, activity_id, "x", 60)
    assert won[top] == 4
    await env.platform.audit_writer.drain()
    before = await env.counters(activity_id)

    await env.platform.redis.flushall()
    await env.platform.activities.ensure_loaded(activity_id)
    # Failed closed: the whole budget left and the hour's release left are held back.
    held = await env.counters(activity_id)
    assert held["budget_left_cny"] == "0.00"
    assert all(d.json()["prize"]["id"] not in (top, coupon) for d in [await env.draw(activity_id, user="h")])
    await env.release_held(activity_id)
    after = await env.counters(activity_id)
    for field in ("budget_spent_cny", "budget_left_cny"):
        assert after[field] == before[field] != "0.00", field
    paced = next(p for p in after["prizes"] if p["prize_id"] == top)
    assert paced["release_counted"] == 4  # the hour's release still used up after the rebuild
    assert (await _burst(env, activity_id, "y", 60))[top] == 0
    env.clock.advance(hours=1)
    left = Decimal((await env.counters(activity_id))["budget_left_cny"])  # 700 - 400 - the coupons' 1 CNY each
    assert (await _burst(env, activity_id, "z", 60))[top] == left // 100  # the budget, not the hour's 4, binds
    final = await env.counters(activity_id)
    assert Decimal(final["budget_left_cny"]) < 100 and Decimal(final["budget_spent_cny"]) <= 700


async def test_views_disclose_release_plans_and_only_that_a_budget_exists(env: Env) -> None:
    plan = {"per": "day", "units": 3, "rollover": True}
    activity = await env.create(_paced_wheel(plan, budget_cny="5000"))
    public = (await env.client.get(f"/activities/{activity['id']}")).json()
    assert public["prizes"][0]["release"] == plan and public["prizes"][1]["release"] is None
    assert public["budget"]["limited"] is True and public["budget"]["budget_cny"] is None
    assert "released" in public["odds_rule"] and "budget" in public["odds_rule"]
    operator = (await env.client.get(f"/operator/activities/{activity['id']}", headers=env.operator())).json()
    assert operator["budget"]["budget_cny"] == "5000.00"
    plain = await env.create(wheel())
    assert (await env.client.get(f"/activities/{plain['id']}")).json()["budget"] is None
    # A clone keeps the plan and the budget.
    op = env.operator()
    copy = await env.client.post(f"/operator/activities/{activity['id']}/clone", json={}, headers=op)
    assert copy.status_code == 201, copy.text
    assert copy.json()["prizes"][0]["release"] == plan and copy.json()["budget"]["budget_cny"] == "5000.00"


async def test_invalid_plans_and_budgets_are_422(env: Env) -> None:
    cases = [
        (_paced_wheel({"per": "week", "units": 1}), "invalid_body"),
        (_paced_wheel({"per": "hour", "units": 0}), "invalid_body"),
        (_paced_wheel({"per": "hour", "units": 1}, budget_cny="-5"), "budget_invalid"),
        (_paced_wheel({"per": "hour", "units": 1}, budget_cny="1.234"), "budget_invalid"),
        (wheel(prizes=[{"name": "T", "type": "thanks", "weight": 1, "release": {"per": "day", "units": 1}}]),
         "consolation_must_be_unlimited"),
        (wheel(budget_cny="100", prizes=[
            {"name": "C", "type": "coupon", "weight": 1, "stock": 1},
            {"name": "T", "type": "thanks", "weight": 1, "value_cny": 1}]), "budget_consolation_value"),
    ]  # fmt: skip
    for spec, code in cases:
        response = await env.client.post("/operator/activities", json=spec, headers=env.operator())
        assert (response.status_code, response.json()["code"]) == (422, code), spec


async def test_a_grant_from_the_pool_respects_pacing_and_budget(env: Env) -> None:
    from lottery.service import DrawService

    activity = await env.create(_paced_wheel({"per": "hour", "units": 2, "rollover": False}, budget_cny="250"))
    service = env.platform.service(DrawService)
    activity_id, top, thanks = activity["id"], activity["prizes"][0]["id"], activity["prizes"][2]["id"]
    got = [(await service.grant_prize(activity_id, f"g{i}", top, f"ref{i}")).prize.id for i in range(3)]
    assert got == [top, top, thanks]  # the hour's two units, then the fallback
    env.clock.advance(hours=1)
    got = [(await service.grant_prize(activity_id, f"g{i}", top, f"ref-b{i}")).prize.id for i in range(2)]
    assert got == [thanks, thanks]  # 200 of 250 CNY spent: another 100 would overspend
    assert (await env.counters(activity_id))["budget_spent_cny"] == "200.00"
    rows = await _rows(env, activity_id)
    assert sum(cost for *_, cost in rows) == 200_00


async def test_an_ab_variants_prize_values_are_what_the_budget_spends(env: Env) -> None:
    """A variant that overrides a prize's value (activities/experiment.py rewards) spends that
    value of the budget: each draw row's cost is its member's variant's, and the total is never
    above the budget."""
    from activities.experiment import assign

    experiment = {
        "salt": "pace",
        "variants": [
            {"name": "A"},
            {"name": "B", "overrides": {"rewards": [{"value_cny": "1.50"}, None, None]}},
        ],
    }
    spec = wheel(
        limits={},
        budget_cny="300",
        experiment=experiment,
        prizes=[
            {"name": "Gift", "type": "goods", "weight": 900, "stock": 1000, "value_cny": "20"},
            {"name": "Coupon", "type": "coupon", "weight": 0, "stock": 10},
            {"name": "Thanks", "type": "thanks", "weight": 100},
        ],
    )
    activity = await env.create(spec)
    activity_id, gift = activity["id"], activity["prizes"][0]["id"]
    users = [f"v{i}" for i in range(200)]
    await asyncio.gather(*(env.draw(activity_id, user=u) for u in users))
    await env.platform.audit_writer.drain()
    draws = lottery_db.draws
    async with env.platform.engine.connect() as conn:
        query = sa.select(draws.c.user_id, draws.c.prize_id, draws.c.cost_fen).where(draws.c.activity_id == activity_id)
        rows = (await conn.execute(query)).all()
    value = {"A": 2000, "B": 150}
    shares = [("A", 1), ("B", 1)]
    for user, prize, cost in rows:
        assert cost == (value[assign("pace", user, shares)] if prize == gift else 0), (user, prize, cost)
    spent = sum(cost for *_, cost in rows)
    assert 300_00 - 2000 < spent <= 300_00 and {assign("pace", u, shares) for u in users} == {"A", "B"}
    counters = await env.counters(activity_id)
    assert Decimal(counters["budget_spent_cny"]) * 100 == spent == Decimal(counters["budget_spent_in_sql_cny"]) * 100


async def test_paced_and_budgeted_draws_verify_across_a_live_value_change(env: Env) -> None:
    """The verifier (lottery/verify.py) replays release plans and the budget through odds.decide:
    300 draws over two hours, a live version that lowers a prize's value halfway (the budget then
    spends the new value: draw.lua ARGV[18]), fallbacks from both rules, every draw verified."""
    from activities.clock import from_ms
    from lottery.fairness_service import Fairness
    from lottery.service import DrawService

    spec = _paced_wheel({"per": "hour", "units": 3, "rollover": False}, budget_cny="500")
    activity = await env.create(spec)
    activity_id, top, coupon = activity["id"], activity["prizes"][0]["id"], activity["prizes"][1]["id"]
    for n in range(100):
        assert (await env.draw(activity_id, user=f"w{n % 30}")).status_code == 201
    effective = from_ms(env.clock.now_ms() + 1000, NOW.tzinfo).isoformat()  # type: ignore[arg-type]
    change = {"effective_at": effective, "prizes": [{"id": coupon, "value_cny": "0.50"}]}
    created = await env.client.post(f"/operator/activities/{activity_id}/versions", json=change, headers=env.operator())
    assert created.status_code == 201, created.text
    env.clock.advance(hours=1)
    for n in range(200):
        assert (await env.draw(activity_id, user=f"w{n % 30}")).status_code == 201
    await env.platform.audit_writer.drain()
    draws = env.platform.service(DrawService)
    report = await Fairness(draws).report(await draws.activities.get(activity_id))
    assert report.ok and report.draws == 300, report.differing[:3]
    async with env.platform.engine.connect() as conn:
        query = sa.select(lottery_db.draws.c.prize_id, lottery_db.draws.c.picked_prize_id, lottery_db.draws.c.cost_fen)
        rows = (await conn.execute(query.where(lottery_db.draws.c.activity_id == activity_id))).all()
    assert sum(cost for *_, cost in rows) <= 500_00
    assert {cost for prize, _, cost in rows if prize == coupon} == {100, 50}  # both values were spent
    assert sum(1 for prize, picked, _ in rows if picked == top != prize) > 0  # paced or unaffordable: fell back
