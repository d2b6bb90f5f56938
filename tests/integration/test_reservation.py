"""Hot-item reservations through the API: reserve, list, cancel, redeem (核销) by code or QR,
the opening time and cutoffs, pools per date and store, limits, idempotency, the expiry sweep,
rebuilds, and every refusal with its code and nothing changed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from reservation.service import CODE_ALPHABET, CODE_LENGTH
from tests.conftest import SHANGHAI, Env, reservation_spec


def at(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, 5 if day > 20 else 6, day, hour, minute, tzinfo=SHANGHAI)


def expect(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


async def reserved(env: Env, activity_id: int, day: str = "2026-06-03", **kwargs: Any) -> dict[str, Any]:
    response = await env.reserve(activity_id, day, **kwargs)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_reserve_list_cancel_and_the_unit_returns_at_once(env: Env) -> None:
    activity = await env.create(reservation_spec(reservation={"dates": [{"date": "2026-06-03", "quantity": 1}]}))
    env.clock.set(at(31))  # 31 May 10:00: 3 June opens
    mine = await reserved(env, activity["id"], store="S2")
    assert len(mine["code"]) == CODE_LENGTH and set(mine["code"]) <= set(CODE_ALPHABET)
    assert mine["qr_payload"].startswith(f"RSV:{activity['id']}.{mine['code']}.")
    assert (mine["status"], mine["store"], mine["purchase"]) == ("reserved", {"id": "S2", "name": "Mall"}, "in_store")
    assert mine["cancel_until"] == "2026-06-02T12:00:00+08:00"  # 36 hours before 3 June ends
    expect(await env.reserve(activity["id"], "2026-06-03", store="S2", user="u2"), 409, "sold_out")
    listed = (await env.client.get(f"/activities/{activity['id']}/reservations", headers=env.player())).json()["items"]
    assert [r["code"] for r in listed] == [mine["code"]]
    expect(await env.cancel(activity["id"], mine["code"], user="u2"), 404, "reservation_not_found")  # not u2's
    cancelled = await env.cancel(activity["id"], mine["code"].lower())
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    expect(await env.cancel(activity["id"], mine["code"]), 409, "reservation_cancelled")
    # The unit is back at once, and u1 may reserve again (a cancelled one does not count).
    assert (await env.reserve(activity["id"], "2026-06-03", store="S2", user="u2")).status_code == 201
    expect(await env.reserve(activity["id"], "2026-06-03", store="S2"), 409, "sold_out")
    await env.platform.audit_writer.drain()
    counters = await env.counters(activity["id"])
    day = next(c for c in counters["by_date_and_store"] if c["store"] == "S2")
    assert (day["reserved"], day["cancelled"], day["reserved_in_sql"], day["cancelled_in_sql"]) == (2, 1, 2, 1)


async def test_redeem_once_on_its_date_at_its_store(env: Env) -> None:
    activity = await env.create(reservation_spec())
    env.clock.set(at(31))
    first = await reserved(env, activity["id"])  # S1, 3 June
    second = await reserved(env, activity["id"], user="u2")
    env.clock.set(at(2, hour=23))
    expect(await env.redeem(activity["id"], code=first["code"]), 409, "wrong_date")
    env.clock.set(at(3, hour=11))
    wrong_store = expect(await env.redeem(activity["id"], store="S2", code=first["code"]), 409, "wrong_store")
    assert wrong_store["details"] == {"store": "S1"}
    typed = "-".join(first["code"][i : i + 4] for i in range(0, 12, 4)).lower()  # as staff type it
    done = await env.redeem(activity["id"], code=typed)
    assert done.status_code == 200 and done.json()["status"] == "redeemed"
    assert done.json()["changed_at"] == "2026-06-03T11:00:00+08:00"
    expect(await env.redeem(activity["id"], code=first["code"]), 409, "reservation_redeemed")
    expect(await env.cancel(activity["id"], first["code"]), 409, "reservation_redeemed")
    assert (await env.redeem(activity["id"], qr=second["qr_payload"])).json()["status"] == "redeemed"
    expect(await env.redeem(activity["id"], qr=second["qr_payload"][:-3] + "abc"), 404, "reservation_not_found")
    expect(await env.redeem(activity["id"], code="ZZZZZZZZZZZZ"), 404, "reservation_not_found")
    expect(await env.redeem(activity["id"], store=None, code=first["code"]), 422, "store_required")
    expect(await env.redeem(activity["id"]), 422, "code_required")
    player = await env.client.post(
        f"/operator/activities/{activity['id']}/redemptions", json={"code": first["code"]}, headers=env.player()
    )
    expect(player, 403, "operator_token_required")


async def test_opening_time_cutoff_and_the_calendar_rules(env: Env) -> None:
    activity = await env.create(reservation_spec())
    env.clock.set(at(31, hour=9, minute=59))
    early = expect(await env.reserve(activity["id"], "2026-06-03"), 409, "not_open_yet")
    assert early["details"] == {"opens_at": "2026-05-31T10:00:00+08:00"}
    env.clock.set(at(31))
    mine = await reserved(env, activity["id"])
    expect(await env.reserve(activity["id"], "2026-06-04"), 409, "not_open_yet")  # opens 1 June
    expect(await env.reserve(activity["id"], "2026-06-05"), 422, "date_not_offered")
    expect(await env.reserve(activity["id"], "2026-06-03", store=None), 422, "store_required")
    expect(await env.reserve(activity["id"], "2026-06-03", store="S9"), 422, "store_unknown")
    env.clock.set(at(2, hour=12))  # the cutoff: noon the day before
    expect(await env.cancel(activity["id"], mine["code"]), 409, "cancel_cutoff_passed")
    env.clock.set(at(4, hour=0))
    expect(await env.reserve(activity["id"], "2026-06-03", user="u9"), 409, "date_closed")
    delivery = await env.create(reservation_spec("delivery"))
    env.clock.set(at(1))
    expect(await env.reserve(delivery["id"], "2026-06-03", store="S1"), 422, "store_not_applicable")
    assert (await env.reserve(delivery["id"], "2026-06-03", store=None)).json()["store"] is None


async def test_stores_with_their_own_units_and_the_shared_pool(env: Env) -> None:
    spec = reservation_spec(
        reservation={
            "dates": [{"date": "2026-06-03", "quantity": 2}],
            "stores": [
                {"id": "S1", "name": "Flagship", "quantity": 1},
                {"id": "S2", "name": "Mall"},
                {"id": "S3", "name": "Outlet"},
            ],
        }
    )
    activity = await env.create(spec)
    env.clock.set(at(31))
    assert (await env.reserve(activity["id"], "2026-06-03", store="S1", user="a")).status_code == 201
    expect(await env.reserve(activity["id"], "2026-06-03", store="S1", user="b"), 409, "sold_out")
    assert (await env.reserve(activity["id"], "2026-06-03", store="S2", user="b")).status_code == 201
    assert (await env.reserve(activity["id"], "2026-06-03", store="S3", user="c")).status_code == 201
    expect(await env.reserve(activity["id"], "2026-06-03", store="S2", user="d"), 409, "sold_out")
    counters = await env.counters(activity["id"])
    assert {p["pool"]: (p["quantity"], p["left"]) for p in counters["pools"]} == {
        "2026-06-03|all": (2, 0),
        "2026-06-03|S1": (1, 0),
    }


async def test_limits_and_idempotency(env: Env) -> None:
    activity = await env.create(reservation_spec(reservation={"per_user_total": 1}))
    env.clock.set(at(1))
    first = await env.reserve(activity["id"], "2026-06-03", key="k1")
    replay = await env.reserve(activity["id"], "2026-06-03", key="k1")
    assert replay.status_code == 201 and replay.json()["code"] == first.json()["code"] and replay.json()["replayed"]
    expect(await env.reserve(activity["id"], "2026-06-04", key="k1"), 422, "idempotency_key_reused")
    expect(await env.reserve(activity["id"], "2026-06-03", key="k2"), 429, "user_date_limit")
    expect(await env.reserve(activity["id"], "2026-06-04", key="k3"), 429, "user_total_limit")
    missing = await env.client.post(
        f"/activities/{activity['id']}/reservations",
        json={"date": "2026-06-03", "store_id": "S1"},
        headers=env.player(),
    )
    expect(missing, 400, "idempotency_key_required")
    expect(await env.client.post(f"/activities/{activity['id']}/reservations", json={"date": "3 June"},
                                 headers={**env.player(), "Idempotency-Key": "k9"}), 422, "invalid_body")  # fmt: skip
    counters = await env.counters(activity["id"])
    assert counters["reservations_total"] == 1


async def test_the_sweep_expires_what_was_not_redeemed_by_the_end_of_the_day(env: Env) -> None:
    activity = await env.create(reservation_spec())
    env.clock.set(at(31))
    kept = await reserved(env, activity["id"], user="a")
    missed = await reserved(env, activity["id"], user="b")
    later = await reserved(env, activity["id"], user="c", day="2026-06-03", store="S2")
    env.clock.set(at(3, hour=15))
    await env.redeem(activity["id"], code=kept["code"])
    env.clock.set(at(3, hour=23, minute=59))
    assert await env.platform.sweep() == 0
    env.clock.set(at(4, hour=0))
    assert await env.platform.sweep() == 2  # "missed" and "later"; "kept" was redeemed
    assert await env.platform.sweep() == 0
    expect(await env.redeem(activity["id"], code=missed["code"]), 409, "reservation_expired")
    expect(await env.cancel(activity["id"], later["code"], user="c"), 409, "reservation_expired")
    await env.platform.audit_writer.drain()
    counters = await env.counters(activity["id"])
    assert (counters["expired_total"], counters["redeemed_total"]) == (2, 1)
    s1 = next(c for c in counters["by_date_and_store"] if c["store"] == "S1" and c["date"] == "2026-06-03")
    assert (s1["reserved"], s1["redeemed"], s1["expired"], s1["expired_in_sql"]) == (2, 1, 1, 1)


async def test_a_flushed_redis_is_rebuilt(env: Env) -> None:
    activity = await env.create(reservation_spec(reservation={"dates": [{"date": "2026-06-03", "quantity": 3}]}))
    env.clock.set(at(31))
    codes = [(await reserved(env, activity["id"], store="S2", user=f"m{i}"))["code"] for i in range(3)]
    await env.cancel(activity["id"], codes[0], user="m0")
    await env.platform.audit_writer.drain()
    before = await env.counters(activity["id"])
    await env.platform.redis.flushall()
    listed = (await env.client.get(f"/activities/{activity['id']}/reservations", headers=env.player("m1"))).json()[
        "items"
    ]
    assert [r["code"] for r in listed] == [codes[1]]
    await env.release_held(activity["id"])  # the writer had written everything: nothing was lost
    after = await env.counters(activity["id"])
    assert after["pools"] == before["pools"] and after["by_date_and_store"] == before["by_date_and_store"]
    expect(await env.reserve(activity["id"], "2026-06-03", store="S2", user="m1"), 429, "user_date_limit")
    assert (await env.reserve(activity["id"], "2026-06-03", store="S2", user="m0")).status_code == 201  # the freed unit
    expect(await env.reserve(activity["id"], "2026-06-03", store="S2", user="m9"), 409, "sold_out")
    env.clock.set(at(4, hour=0))
    assert await env.platform.sweep() == 3


async def test_operators_get_clear_errors_for_bad_rules(env: Env) -> None:
    cases = [
        ({"dates": []}, "no_dates"),
        ({"dates": [{"date": "2026-06-03", "quantity": 1}] * 2}, "dates_invalid"),
        ({"stores": []}, "stores_required"),
        ({"stores": [{"id": "S1", "name": "A"}, {"id": "S1", "name": "B"}]}, "stores_invalid"),
        ({"item": {"sku": "X", "name": "X", "price_cny": "9.999"}}, "price_invalid"),
        ({"item": {"sku": "X", "name": "X", "price_cny": "10", "deposit_cny": "20"}}, "deposit_invalid"),
        ({"opening": {"time": "25:00", "days_ahead": 1}}, "invalid_body"),
        ({"method": "drone"}, "invalid_body"),
    ]
    for change, code in cases:
        response = await env.client.post(
            "/operator/activities", json=reservation_spec(reservation=change), headers=env.operator()
        )
        expect(response, 422, code)
    delivery_with_stores = reservation_spec("delivery", reservation={"stores": [{"id": "S1", "name": "A"}]})
    expect(
        await env.client.post("/operator/activities", json=delivery_with_stores, headers=env.operator()),
        422,
        "stores_required",
    )
