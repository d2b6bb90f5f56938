"""Points wallets: grants, draw costs charged once, refunds when no draw happened, rebuilds."""

from __future__ import annotations

import asyncio
from collections import Counter

from activities.points import draw_cost_ref
from tests.conftest import Env, wheel


async def grant(env: Env, user: str, amount: int, key: str = "g1") -> dict:
    headers = {**env.operator(), "Idempotency-Key": key}
    response = await env.client.post(f"/operator/members/{user}/points", json={"amount": amount}, headers=headers)
    assert response.status_code == 201, response.text
    result: dict = response.json()
    return result


async def balance(env: Env, user: str) -> int:
    response = await env.client.get("/me/points", headers=env.player(user))
    assert response.status_code == 200, response.text
    return int(response.json()["balance"])


async def test_grants_are_idempotent(env: Env) -> None:
    assert await balance(env, "u1") == 0
    assert (await grant(env, "u1", 50))["balance"] == 50
    replay = await grant(env, "u1", 50)
    assert replay == {"user_id": "u1", "balance": 50, "replayed": True}
    assert (await grant(env, "u1", 5, key="g2"))["balance"] == 55
    bad = await env.client.post(
        "/operator/members/u1/points", json={"amount": -5}, headers={**env.operator(), "Idempotency-Key": "g3"}
    )
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_body"
    assert await balance(env, "u1") == 55


async def test_draws_cost_points_and_refuse_when_short(env: Env) -> None:
    activity = await env.create(wheel(points_cost=10, limits={}))
    await grant(env, "u1", 25)
    assert [(await env.draw(activity["id"])).status_code for _ in range(2)] == [201, 201]
    short = await env.draw(activity["id"])
    assert short.status_code == 409 and short.json()["code"] == "points_insufficient"
    assert short.json()["details"] == {"needed": 10, "balance": 5}
    assert await balance(env, "u1") == 5
    assert (await env.counters(activity["id"]))["draws_total"] == 2


async def test_refused_or_replayed_draws_are_not_charged(env: Env) -> None:
    activity = await env.create(wheel(points_cost=10, limits={"per_user_daily": 1}))
    await grant(env, "u1", 100)
    first = await env.draw(activity["id"], key="k1")
    assert first.status_code == 201 and await balance(env, "u1") == 90
    replay = await env.draw(activity["id"], key="k1")
    assert replay.json()["replayed"] is True and await balance(env, "u1") == 90
    limited = await env.draw(activity["id"], key="k2")
    assert limited.status_code == 429 and await balance(env, "u1") == 90
    await env.platform.audit_writer.drain()
    history = (await env.client.get("/me/points/history", headers=env.player("u1"))).json()["items"]
    # The replay and the refusal are answered before any charge: the ledger holds one cost only.
    assert sorted(Counter(row["reason"] for row in history).items()) == [("draw_cost", 1), ("operator_grant", 1)]
    assert sum(row["delta"] for row in history) == 90


async def test_concurrent_costly_draws_never_overdraw(env: Env) -> None:
    activity = await env.create(wheel(points_cost=10, limits={}))
    await grant(env, "u1", 100)
    responses = await asyncio.gather(*(env.draw(activity["id"], key=f"c{i}") for i in range(60)))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 10, 409: 50}
    assert await balance(env, "u1") == 0
    await env.platform.audit_writer.drain()
    history = (await env.client.get("/me/points/history?limit=200", headers=env.player("u1"))).json()["items"]
    assert sum(row["delta"] for row in history) == 0
    assert min(row["balance_after"] for row in history) >= 0


async def test_balances_are_rebuilt_from_sql_after_a_flush(env: Env) -> None:
    activity = await env.create(wheel(points_cost=10, limits={}))
    await grant(env, "u1", 35)
    await env.draw(activity["id"])
    await env.platform.audit_writer.drain()
    await env.platform.redis.flushall()
    assert await balance(env, "u1") == 25
    await env.draw(activity["id"])
    assert await balance(env, "u1") == 15


async def test_reconciler_refunds_costs_of_draws_that_never_happened(env: Env) -> None:
    points = env.platform.points
    await grant(env, "u1", 30)
    # A draw cost was charged, then the draw script's outcome was unknown and nobody retried.
    await points.debit("u1", 10, draw_cost_ref("d-lost"), "draw_cost", 1)
    activity = await env.create(wheel(points_cost=10, limits={}))
    assert (await env.draw(activity["id"])).status_code == 201  # a real, kept cost
    await env.platform.audit_writer.drain()
    assert await env.platform.reconcile() == 0  # too recent to judge
    env.clock.advance(minutes=6)
    assert await env.platform.reconcile() == 1
    assert await balance(env, "u1") == 20
    await env.platform.audit_writer.drain()
    assert await env.platform.reconcile() == 0  # refunded once only
    assert await balance(env, "u1") == 20


def points_wheel(**overrides) -> dict:
    return wheel(
        limits={},
        prizes=[
            {"name": "88 points", "type": "points", "weight": 1, "stock": 1000, "points": 88},
            {"name": "Thanks", "type": "thanks", "weight": 0},
        ],
        **overrides,
    )


async def test_a_points_prize_credits_the_wallet_once(env: Env) -> None:
    activity = await env.create(points_wheel())
    won = await env.draw(activity["id"], key="p1")
    assert won.status_code == 201 and won.json()["prize"]["points"] == 88
    assert await balance(env, "u1") == 88
    assert (await env.draw(activity["id"], key="p1")).json()["replayed"] is True
    assert await balance(env, "u1") == 88
    view = (await env.client.get(f"/activities/{activity['id']}")).json()
    assert view["prizes"][0]["points"] == 88


async def test_points_amount_goes_with_points_prizes_only(env: Env) -> None:
    no_amount = wheel(
        prizes=[{"name": "P", "type": "points", "weight": 1, "stock": 5}, {"name": "T", "type": "thanks", "weight": 1}]
    )
    coupon_with_points = wheel(
        prizes=[
            {"name": "C", "type": "coupon", "weight": 1, "stock": 5, "points": 10},
            {"name": "T", "type": "thanks", "weight": 1},
        ]
    )
    for spec in (no_amount, coupon_with_points):
        response = await env.client.post("/operator/activities", json=spec, headers=env.operator())
        assert response.status_code == 422 and response.json()["code"] == "points_amount_mismatch"


async def test_reconciler_credits_a_points_prize_whose_credit_failed(env: Env, monkeypatch) -> None:
    activity = await env.create(points_wheel())

    async def wallet_down(*_args, **_kwargs):
        raise ConnectionError("wallet shard unreachable")

    monkeypatch.setattr(env.platform.points, "credit_prize", wallet_down)
    assert (await env.draw(activity["id"])).status_code == 201  # the draw stands
    monkeypatch.undo()
    assert await balance(env, "u1") == 0
    await env.platform.audit_writer.drain()
    env.clock.advance(minutes=6)
    assert await env.platform.reconcile() == 1
    assert await balance(env, "u1") == 88
    await env.platform.audit_writer.drain()
    assert await env.platform.reconcile() == 0
