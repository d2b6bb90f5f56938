"""Rewards that come from a linked lottery (签到抽奖化 / 签到盲盒化): draw chances spent by the
draw, prizes granted from the pool under the rules of a draw; rebuilds and reconciliation."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from lottery import db as lottery_db
from tests.conftest import SHANGHAI, Env, checkin_spec, wheel

MONDAY = datetime(2026, 6, 1, 9, 0, tzinfo=SHANGHAI)


def blind_box(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "type": "blind_box",
        "name": "Sign-in blind box",
        "limits": {"per_user_daily": 1},
        "prizes": [
            {"name": "Figurine", "type": "goods", "weight": 1, "stock": 1, "value_cny": 59},
            {"name": "88 points", "type": "points", "weight": 1, "stock": 100, "points": 88},
            {"name": "Thanks", "type": "thanks", "weight": 0},
        ],
    }
    return wheel(**(spec | overrides))


async def sign_in(env: Env, activity_id: int, days: int, user: str = "u1") -> dict[str, Any]:
    env.clock.set(MONDAY + timedelta(days=days))
    response = await env.sign_in(activity_id, user)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def chances(env: Env, lottery_id: int, user: str = "u1") -> int:
    response = await env.client.get(f"/activities/{lottery_id}/chances", headers=env.player(user))
    assert response.status_code == 200, response.text
    return int(response.json()["chances"])


async def test_draw_chances_are_spent_by_the_draw_before_the_daily_allowance(env: Env) -> None:
    lottery = await env.create(blind_box())
    checkin = await env.create(
        checkin_spec(checkin={"daily_reward": {"type": "chances", "chances": 2}, "linked_lottery_id": lottery["id"]})
    )
    signed = await sign_in(env, checkin["id"], 0)
    assert signed["rewards"][0]["status"] == "granted"
    assert await chances(env, lottery["id"]) == 2
    first, second, third = [(await env.draw(lottery["id"])).json() for _ in range(3)]
    assert [d["kind"] for d in (first, second, third)] == ["chance", "chance", "draw"]
    assert [d["chances_left"] for d in (first, second, third)] == [1, 0, 0]
    assert first["left_today"] == 1 and third["left_today"] == 0  # chance draws leave the allowance alone
    limited = await env.draw(lottery["id"])
    assert limited.status_code == 429 and limited.json()["code"] == "user_daily_limit"
    # Signing in again the same day replays: no more chances.
    assert (await env.sign_in(checkin["id"])).json()["replayed"] is True
    assert await chances(env, lottery["id"]) == 0
    await env.platform.audit_writer.drain()
    async with env.platform.engine.connect() as conn:
        ledger = (
            (await conn.execute(sa.select(lottery_db.chance_ledger.c.delta).order_by(lottery_db.chance_ledger.c.id)))
            .scalars()
            .all()
        )
        kinds = (await conn.execute(sa.select(lottery_db.draws.c.kind).order_by(lottery_db.draws.c.id))).scalars().all()
    assert sorted(ledger) == [-1, -1, 2] and kinds == ["chance", "chance", "draw"]
    counters = await env.counters(lottery["id"])
    assert counters["draws_total"] == counters["draws_in_sql"] == 3


async def test_a_costly_draw_uses_a_chance_instead_of_points(env: Env) -> None:
    prizes = [
        {"name": "Figurine", "type": "goods", "weight": 1, "stock": 9},
        {"name": "Thanks", "type": "thanks", "weight": 1},
    ]
    lottery = await env.create(blind_box(points_cost=50, limits={}, prizes=prizes))
    checkin = await env.create(
        checkin_spec(checkin={"daily_reward": {"type": "chances", "chances": 1}, "linked_lottery_id": lottery["id"]})
    )
    await sign_in(env, checkin["id"], 0)
    with_chance = await env.draw(lottery["id"])
    assert with_chance.status_code == 201 and with_chance.json()["kind"] == "chance"
    no_points = await env.draw(lottery["id"])
    assert no_points.status_code == 409 and no_points.json()["code"] == "points_insufficient"


async def test_a_prize_reward_follows_the_rules_of_a_draw(env: Env) -> None:
    lottery = await env.create(blind_box())
    figurine, points_prize, thanks = (p["id"] for p in lottery["prizes"])
    checkin = await env.create(
        checkin_spec(
            checkin={
                "daily_reward": None,
                "streak_rewards": [
                    {"days": 1, "reward": {"type": "prize", "prize_id": figurine}},
                    {"days": 2, "reward": {"type": "prize", "prize_id": points_prize}},
                ],
                "cumulative_rewards": [],
                "linked_lottery_id": lottery["id"],
            }
        )
    )
    first = await sign_in(env, checkin["id"], 0, user="u1")
    assert first["rewards"][0]["prize"]["name"] == "Figurine" and "fallback" not in first["rewards"][0]
    # The only figurine is gone: the next member gets the consolation prize, never a second one.
    second = await sign_in(env, checkin["id"], 0, user="u2")
    assert second["rewards"][0]["prize"]["id"] == thanks and second["rewards"][0]["fallback"] is True
    replay = (await env.sign_in(checkin["id"], "u1")).json()
    assert replay["replayed"] is True and replay["rewards"][0]["prize"]["name"] == "Figurine"
    # A "points" prize from the pool is credited to the wallet, once.
    day2 = await sign_in(env, checkin["id"], 1, user="u1")
    assert day2["rewards"][0]["prize"]["points"] == 88
    balance = (await env.client.get("/me/points", headers=env.player("u1"))).json()["balance"]
    assert balance == 88
    await env.platform.audit_writer.drain()
    counters = await env.counters(lottery["id"])
    by_id = {p["prize_id"]: p for p in counters["prizes"]}
    assert (by_id[figurine]["granted"], by_id[figurine]["stock_left"], by_id[figurine]["granted_in_sql"]) == (1, 0, 1)
    assert by_id[thanks]["granted"] == by_id[thanks]["granted_in_sql"] == 1
    assert counters["draws_total"] == counters["draws_in_sql"] == 0  # grants are not draws
    # The member's own list shows them as grants.
    mine = (await env.client.get(f"/me/draws?activity={lottery['id']}", headers=env.player("u1"))).json()["items"]
    assert [d["kind"] for d in mine] == ["grant", "grant"]


async def test_a_flushed_redis_is_rebuilt_for_sign_ins_and_chances(env: Env) -> None:
    lottery = await env.create(blind_box())
    checkin = await env.create(
        checkin_spec(checkin={"daily_reward": {"type": "chances", "chances": 3}, "linked_lottery_id": lottery["id"]})
    )
    for day in (0, 1):
        await sign_in(env, checkin["id"], day)
    assert (await env.draw(lottery["id"])).json()["kind"] == "chance"
    await env.platform.audit_writer.drain()
    before = await env.counters(checkin["id"])
    await env.platform.redis.flushall()
    # The same day again: a replay of the sign-in made before the flush, not a second one.
    replay = (await env.sign_in(checkin["id"])).json()
    assert replay["replayed"] is True and replay["streak"] == 2
    after = await env.counters(checkin["id"])
    assert (after["signins_total"], after["rewards_total"]) == (before["signins_total"], before["rewards_total"])
    assert await chances(env, lottery["id"]) == 5  # 3 + 3 - 1, rebuilt from the chance ledger
    assert (await sign_in(env, checkin["id"], 2))["streak"] == 3
    calendar = await env.calendar(checkin["id"])
    assert [d["status"] for d in calendar["days"][:4]] == ["signed", "signed", "signed", "upcoming"]


async def test_the_reconciler_delivers_lost_rewards_and_refunds_lost_make_up_costs(env: Env, monkeypatch) -> None:
    checkin = await env.create(checkin_spec())
    points = env.platform.points

    async def wallet_down(*_args, **_kwargs):
        raise ConnectionError("wallet shard unreachable")

    monkeypatch.setattr(points, "credit", wallet_down)
    signed = await sign_in(env, checkin["id"], 0)
    assert signed["rewards"][0]["status"] == "pending"  # the sign-in stands
    monkeypatch.undo()
    # A make-up cost charged, then the make-up's outcome was unknown and nobody retried.
    await env.client.post(
        "/operator/members/u1/points", json={"amount": 30}, headers={**env.operator(), "Idempotency-Key": "g"}
    )
    await points.debit("u1", 10, "makeup:m-lost", "makeup_cost", checkin["id"])
    await env.platform.audit_writer.drain()
    assert await env.platform.reconcile() == 0  # too recent to judge
    env.clock.advance(minutes=6)
    assert await env.platform.reconcile() == 2
    assert (await env.client.get("/me/points", headers=env.player())).json()["balance"] == 30 + 5
    await env.platform.audit_writer.drain()
    assert await env.platform.reconcile() == 0  # once only
