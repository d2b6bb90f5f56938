"""Redis loses an activity's state while the audit writer is behind: the rebuild from SQL fails
closed (it holds back what the unwritten window may have granted) until an operator confirms.

The invariant, for every counter of scarce units: units the platform believes are left + units
acknowledged to members <= the units there are. The tests keep the ledger of acknowledged answers
(the unwritten ones included: the writer is not drained before the flush)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from activities.recovery import RecoveryRules, activity_epochs
from tests.conftest import SHANGHAI, Env, assist_spec, checkin_spec, reservation_spec, wheel


def _wheel() -> dict[str, Any]:
    return wheel(
        limits={"per_user_daily": 50},
        prizes=[
            {"name": "Top", "type": "goods", "weight": 900, "stock": 20},
            {"name": "Coupon", "type": "coupon", "weight": 100, "stock": 100000},
            {"name": "Thanks", "type": "thanks", "weight": 1},
        ],
    )


def at_risk(env: Env, units: int) -> None:
    """The rule's bound on what the unwritten window granted (window x rate), made small."""
    env.platform.activities.recoveries.rules = RecoveryRules(window_s=1.0, max_rate=units)


async def recovery(env: Env, activity_id: int) -> dict[str, Any]:
    response = await env.client.get(f"/operator/activities/{activity_id}/recovery", headers=env.operator())
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def resolve(env: Env, activity_id: int, body: dict[str, Any]) -> Any:
    return await env.client.post(f"/operator/activities/{activity_id}/recovery", json=body, headers=env.operator())


async def loads(env: Env, activity_id: int) -> int:
    async with env.platform.engine.connect() as conn:
        query = sa.select(activity_epochs.c.loads).where(activity_epochs.c.activity_id == activity_id)
        return int((await conn.execute(query)).scalar_one())


def top_wins(answers: list[Any], top_id: int) -> int:
    return sum(1 for r in answers if r.status_code == 201 and r.json()["prize"]["id"] == top_id)


async def test_a_first_load_is_cold_a_flushed_one_is_lost_and_an_unload_is_neither(env: Env) -> None:
    activity = await env.create(_wheel())
    activity_id = activity["id"]
    assert await recovery(env, activity_id) == {"activity_id": activity_id, "recovering": False, "recovery": None}
    assert await loads(env, activity_id) == 1
    assert (await env.draw(activity_id)).status_code == 201
    await env.platform.audit_writer.drain()

    # The state goes but Redis itself was not flushed (its epoch stays): an exact rebuild.
    await env.platform.activity_store.unload(activity_id)
    assert (await env.draw(activity_id)).status_code == 201
    assert (await recovery(env, activity_id))["recovery"] is None and await loads(env, activity_id) == 1

    await env.platform.audit_writer.drain()
    granted = {p["prize_id"]: p["granted_in_sql"] for p in (await env.counters(activity_id))["prizes"]}
    await env.platform.redis.flushall()
    env.clock.advance(seconds=5)
    assert (await env.draw(activity_id)).status_code == 201
    found = await recovery(env, activity_id)
    assert found["recovering"] is True and await loads(env, activity_id) == 2
    record = found["recovery"]
    top, coupon, _ = (p["id"] for p in activity["prizes"])
    at_risk_units = env.platform.activities.recoveries.rules.at_risk
    assert record["held"][f"stock:{top}"] == 20 - granted[top]  # nothing left of a scarce prize
    assert record["held"][f"stock:{coupon}"] == at_risk_units  # a large pool keeps the rest
    assert record["status"] == "open" and record["detected_at_ms"] == env.clock.now_ms()
    assert record["last_event_ms"] == env.clock.now_ms() - 5000  # the last draw SQL had


async def test_a_lost_unwritten_window_never_overgrants_a_lottery(env: Env) -> None:
    activity = await env.create(_wheel())
    activity_id = activity["id"]
    top = activity["prizes"][0]["id"]
    ledger = [await env.draw(activity_id, user=f"w{i}") for i in range(4)]
    await env.platform.audit_writer.drain()  # in SQL
    unwritten = [await env.draw(activity_id, user=f"x{i}") for i in range(5)]  # acknowledged, not in SQL
    ledger += unwritten
    at_risk(env, 5)  # the writer's bound: at most 5 entries behind
    await env.platform.redis.flushall()  # ... and they are gone

    ledger += [await env.draw(activity_id, user=f"n{i}") for i in range(40)]
    assert all(r.status_code == 201 for r in ledger)
    counters = await env.counters(activity_id)
    top_left = next(p["stock_left"] for p in counters["prizes"] if p["prize_id"] == top)
    lost_top_wins = top_wins(unwritten, top)
    assert top_wins(ledger, top) + top_left <= 20
    assert top_wins(ledger, top) == 20 - 5 + lost_top_wins  # the held units are not handed out

    # The operator knows (from the clients, the fulfilment system...) how many of the held units
    # the lost window did grant, keeps those held and gives back the rest.
    record = (await recovery(env, activity_id))["recovery"]
    keep = {counter: 0 for counter in record["held"]} | {f"stock:{top}": lost_top_wins}
    resolved = await resolve(env, activity_id, {"action": "correct", "keep": keep})
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert body["recovering"] is False and body["recovery"]["status"] == "corrected"
    assert body["recovery"]["released"].get(f"stock:{top}", 0) == 5 - lost_top_wins
    ledger += [await env.draw(activity_id, user=f"m{i}") for i in range(40)]
    assert top_wins(ledger, top) == 20  # every unit handed out once, none twice
    assert (await resolve(env, activity_id, {"action": "confirm"})).json()["code"] == "no_open_recovery"


async def test_confirming_keeps_the_held_units_spent(env: Env) -> None:
    activity = await env.create(_wheel())
    activity_id, top = activity["id"], activity["prizes"][0]["id"]
    assert (await env.draw(activity_id)).status_code == 201
    await env.platform.redis.flushall()
    assert (await env.draw(activity_id, user="u2")).status_code == 201
    confirmed = await resolve(env, activity_id, {"action": "confirm"})
    assert confirmed.status_code == 200 and confirmed.json()["recovery"]["status"] == "confirmed"
    assert confirmed.json()["recovery"]["released"] == {}
    counters = await env.counters(activity_id)
    assert next(p["stock_left"] for p in counters["prizes"] if p["prize_id"] == top) == 0


async def test_operators_get_clear_errors_on_a_recovery(env: Env) -> None:
    activity = await env.create(_wheel())
    activity_id = activity["id"]
    assert (await resolve(env, activity_id, {"action": "confirm"})).json()["code"] == "no_open_recovery"
    await env.platform.redis.flushall()
    assert (await env.draw(activity_id)).status_code == 201
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"action": "correct", "keep": {"stock:999": 1}}, 422, "unknown_counter"),
        ({"action": "correct", "keep": {f"stock:{activity['prizes'][0]['id']}": 21}}, 422, "keep_out_of_range"),
        ({"action": "correct", "keep": {f"stock:{activity['prizes'][0]['id']}": -1}}, 422, "invalid_body"),
        ({"action": "correct", "keep": {"stock:1": 2**63}}, 422, "invalid_body"),
        ({"action": "forget"}, 422, "invalid_body"),
        ({"keep": {}}, 422, "invalid_body"),
    ]
    for body, status, code in cases:
        response = await resolve(env, activity_id, body)
        assert (response.status_code, response.json()["code"]) == (status, code), body
    player = await env.client.get(f"/operator/activities/{activity_id}/recovery", headers=env.player())
    assert player.status_code == 403
    assert (await env.client.get("/operator/activities/999/recovery", headers=env.operator())).status_code == 404
    assert (await recovery(env, activity_id))["recovering"] is True  # nothing changed


async def test_a_second_loss_while_recovering_holds_back_again(env: Env) -> None:
    activity = await env.create(_wheel())
    activity_id, top = activity["id"], activity["prizes"][0]["id"]
    at_risk(env, 3)
    await env.platform.redis.flushall()
    ledger = [await env.draw(activity_id, user=f"a{i}") for i in range(3)]  # within the writer's bound
    await env.platform.redis.flushall()  # before the writer wrote them
    ledger += [await env.draw(activity_id, user=f"b{i}") for i in range(30)]
    assert all(r.status_code == 201 for r in ledger)
    assert top_wins(ledger, top) <= 20
    record = (await recovery(env, activity_id))["recovery"]
    assert record["held"][f"stock:{top}"] == 3 and await loads(env, activity_id) == 3


async def test_a_lost_unwritten_window_never_overgrants_reservations(env: Env) -> None:
    spec = reservation_spec(reservation={"dates": [{"date": "2026-06-03", "quantity": 10}]})
    activity = await env.create(spec)
    activity_id = activity["id"]
    env.clock.set(datetime(2026, 5, 31, 10, 0, tzinfo=SHANGHAI))
    ledger = [await env.reserve(activity_id, "2026-06-03", store="S2", user=f"w{i}") for i in range(3)]
    await env.platform.audit_writer.drain()
    ledger += [await env.reserve(activity_id, "2026-06-03", store="S2", user=f"x{i}") for i in range(2)]
    at_risk(env, 2)
    await env.platform.redis.flushall()
    ledger += [await env.reserve(activity_id, "2026-06-03", store="S2", user=f"n{i}") for i in range(10)]
    reserved = sum(1 for r in ledger if r.status_code == 201)
    assert reserved == 10  # 3 written + 2 lost + the 5 left after holding 2 back: none twice
    assert all(r.json()["code"] == "sold_out" for r in ledger if r.status_code != 201)
    record = (await recovery(env, activity_id))["recovery"]
    assert record["held"] == {"pool:2026-06-03|all": 2, "pool:2026-06-03|S1": 2}
    # The 2 unwritten reservations did happen (the clients hold their codes): confirm.
    assert (await resolve(env, activity_id, {"action": "confirm"})).status_code == 200
    assert (await env.reserve(activity_id, "2026-06-03", store="S2", user="late")).json()["code"] == "sold_out"


async def test_a_lost_unwritten_window_never_overgrants_assist_units(env: Env) -> None:
    activity = await env.create(assist_spec(assist={"prize": {"name": "Gift", "stock": 6, "value_cny": "49"}}))
    activity_id = activity["id"]
    ledger = [await env.start(activity_id, user=f"w{i}") for i in range(2)]
    await env.platform.audit_writer.drain()
    ledger += [await env.start(activity_id, user="x1")]  # acknowledged, never written
    at_risk(env, 2)
    await env.platform.redis.flushall()
    ledger += [await env.start(activity_id, user=f"n{i}") for i in range(6)]
    started = sum(1 for r in ledger if r.status_code in (200, 201))
    assert started == 2 + 1 + (6 - 2 - 2)  # the 2 held units stay out
    assert all(r.json()["code"] == "out_of_stock" for r in ledger if r.status_code not in (200, 201))
    record = (await recovery(env, activity_id))["recovery"]
    assert record["held"] == {"stock:prize": 2}
    # The operator learns that one initiative started in the lost window: one unit goes back.
    corrected = await resolve(env, activity_id, {"action": "correct", "keep": {"stock:prize": 1}})
    assert corrected.status_code == 200 and corrected.json()["recovery"]["released"] == {"stock:prize": 1}
    assert (await env.start(activity_id, user="late")).status_code in (200, 201)
    assert (await env.start(activity_id, user="later")).json()["code"] == "out_of_stock"


async def test_daily_stock_and_the_global_daily_limit_are_held_and_given_back(env: Env) -> None:
    spec = wheel(
        limits={"per_user_daily": 50, "global_daily": 30},
        prizes=[
            {"name": "Coupon", "type": "coupon", "weight": 900, "stock": 1000, "daily_stock": 10},
            {"name": "Thanks", "type": "thanks", "weight": 100},
        ],
    )
    activity = await env.create(spec)
    activity_id, coupon = activity["id"], activity["prizes"][0]["id"]
    day = "2026-06-01"
    assert (await env.draw(activity_id)).status_code == 201
    await env.platform.audit_writer.drain()
    at_risk(env, 4)
    await env.platform.redis.flushall()
    assert (await env.draw(activity_id, user="u2")).status_code == 201
    record = (await recovery(env, activity_id))["recovery"]
    assert set(record["held"]) == {f"stock:{coupon}", f"daily:{coupon}:{day}", f"draws:{day}"}
    assert record["held"][f"draws:{day}"] == 4
    before = await env.counters(activity_id)
    assert (await resolve(env, activity_id, {"action": "correct", "keep": {}})).status_code == 200
    after = await env.counters(activity_id)
    assert after["draws_today"] == before["draws_today"] - 4
    coupon_before, coupon_after = (next(p for p in c["prizes"] if p["prize_id"] == coupon) for c in (before, after))
    assert coupon_after["stock_left"] == coupon_before["stock_left"] + 4
    assert coupon_after["granted_today"] == coupon_before["granted_today"] - record["held"][f"daily:{coupon}:{day}"]
    ledger = [await env.draw(activity_id, user=f"n{i}") for i in range(40)]
    drawn = 2 + sum(1 for r in ledger if r.status_code == 201)
    assert drawn == 30  # the global daily limit, exactly, once the held draws were given back


async def test_a_lost_sign_in_activity_is_reported_with_nothing_to_hold(env: Env) -> None:
    activity = await env.create(checkin_spec())
    activity_id = activity["id"]
    assert (await env.sign_in(activity_id, user="u1")).status_code == 201
    await env.platform.audit_writer.drain()
    await env.platform.redis.flushall()
    again = await env.sign_in(activity_id, user="u1")
    assert again.status_code == 201 and again.json()["replayed"] is True  # rebuilt from SQL
    found = await recovery(env, activity_id)
    assert found["recovering"] is True
    assert (found["recovery"]["gameplay"], found["recovery"]["held"]) == ("checkin", {})
    assert (await resolve(env, activity_id, {"action": "confirm"})).json()["recovering"] is False
