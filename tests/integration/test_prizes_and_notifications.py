"""Members' prizes and delivery addresses (encrypted at rest, masked for operators, the reveal
logged), and the notifications: scheduled reminders computed in SQL, quiet hours, the daily cap."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from activities import db
from outbound.assist_grants import record_assist_grants
from outbound.db import fulfilments, webhook_events
from outbound.fanout import fan_out
from tests.conftest import SHANGHAI, Env, assist_spec, checkin_spec, reservation_spec
from tests.integration.test_webhooks import coupon_wheel, dispatcher, endpoint, goods_wheel, grants, rows
from tests.integration.webhook_receiver import Receiver

ADDRESS = {
    "name": "张三",
    "phone": "13812345678",
    "province": "上海市",
    "city": "上海市",
    "district": "黄浦区",
    "street": "南京东路 100 号 3 楼",
    "postal_code": "200001",
}


async def test_goods_address_encrypted_masked_revealed_and_locked_once_shipped(env: Env) -> None:
    receiver = Receiver().start()
    try:
        lottery = await env.create(goods_wheel())
        await endpoint(env, receiver.url("/ok"), ["fulfilment.requested", "fulfilment.address_changed"])
        [grant] = await grants(env, lottery["id"], 1)
        mine = (await env.client.get("/me/prizes", headers=env.player("m0"))).json()["items"][0]
        assert mine["address_required"] and mine["address"] is None
        d = dispatcher(env)
        await d.drain()
        assert receiver.ids() == []  # goods: the CRM hears of it once the address is there
        path = f"/me/prizes/{grant}/address"
        bad = await env.client.put(path, json={**ADDRESS, "phone": "12345"}, headers=env.player("m0"))
        assert bad.status_code == 422 and bad.json()["details"]["field"] == "phone"
        other = await env.client.put(path, json=ADDRESS, headers=env.player("m1"))
        assert other.status_code == 404  # someone else's prize is not there for you
        unknown = await env.client.put("/me/prizes/nope/address", json={"x": 1}, headers=env.player("m0"))
        assert unknown.status_code == 404
        response = await env.client.put(path, json=ADDRESS, headers=env.player("m0"))
        assert response.status_code == 200, response.text
        assert response.json()["address"] == ADDRESS and not response.json()["address_required"]
        # At rest: encrypted, nothing of it readable.
        [(sealed,)] = await rows(env, sa.select(fulfilments.c.address))
        assert "13812345678" not in sealed and "南京" not in sealed
        assert env.platform.outbound.sealer.open_address(sealed).phone == "13812345678"
        # The CRM gets the request with the address.
        await d.drain()
        [payload] = receiver.payloads()
        assert payload["type"] == "fulfilment.requested" and payload["data"]["address"]["phone"] == "13812345678"
        # Operators: masked, unless revealed (logged).
        listed = (await env.client.get("/operator/fulfilments", headers=env.operator())).json()["items"][0]
        assert listed["address"]["phone"] == "138****5678" and listed["address"]["street"] == "***"
        assert listed["address"]["name"] == "张*"
        revealed = await env.client.post(f"/operator/fulfilments/{grant}/reveal", headers=env.operator("ops7"))
        assert revealed.status_code == 200 and revealed.json()["address"] == ADDRESS
        actions = await rows(
            env, sa.select(db.operator_actions).where(db.operator_actions.c.action == "reveal_address")
        )
        assert [(a.operator_id, a.detail["grant_id"]) for a in actions] == [("ops7", grant)]
        # A change before shipping tells the CRM; after shipping (issued) the address is locked.
        changed = await env.client.put(path, json={**ADDRESS, "street": "淮海中路 1 号"}, headers=env.player("m0"))
        assert changed.status_code == 200
        await d.drain()
        assert [p["type"] for p in receiver.payloads()] == ["fulfilment.requested", "fulfilment.address_changed"]
        issued = await env.client.post(
            f"/operator/fulfilments/{grant}/issue", json={"code": "SF1234567890"}, headers=env.operator()
        )
        assert issued.status_code == 200
        locked = await env.client.put(path, json=ADDRESS, headers=env.player("m0"))
        assert locked.status_code == 409 and locked.json()["code"] == "address_locked"
        await d.close()
    finally:
        receiver.stop()


async def test_coupon_needs_no_address_and_cancel_stops_deliveries(env: Env) -> None:
    lottery = await env.create(coupon_wheel())
    await endpoint(env, "http://127.0.0.1:9/never")
    [grant] = await grants(env, lottery["id"], 1)
    response = await env.client.put(f"/me/prizes/{grant}/address", json=ADDRESS, headers=env.player("m0"))
    assert response.status_code == 409 and response.json()["code"] == "address_not_needed"
    cancelled = await env.client.post(f"/operator/fulfilments/{grant}/cancel", headers=env.operator())
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    states = {r.type: r.state for r in await rows(env, sa.select(webhook_events.c.type, webhook_events.c.state))}
    assert states["fulfilment.requested"] == "cancelled"
    issue = await env.client.post(f"/operator/fulfilments/{grant}/issue", json={"code": "X"}, headers=env.operator())
    assert issue.status_code == 409


async def _sign_in_on(env: Env, activity_id: int, day: datetime, users: list[str]) -> None:
    env.clock.set(day)
    for user in users:
        response = await env.sign_in(activity_id, user)
        assert response.status_code in (200, 201), response.text


async def test_checkin_reminder_is_a_set_difference_in_sql_once_a_day(env: Env) -> None:
    activity = await env.create(checkin_spec())
    await _sign_in_on(env, activity["id"], datetime(2026, 6, 1, 9, tzinfo=SHANGHAI), ["a", "b", "c"])
    await _sign_in_on(env, activity["id"], datetime(2026, 6, 2, 9, tzinfo=SHANGHAI), ["a", "d"])
    await env.platform.audit_writer.drain()
    notifier = env.platform.outbound.notifier
    env.clock.set(datetime(2026, 6, 2, 19, 59, tzinfo=SHANGHAI))
    assert await notifier.run_due() == 0  # before the reminder hour (20:00 local)
    env.clock.set(datetime(2026, 6, 2, 20, 0, tzinfo=SHANGHAI))
    assert await notifier.run_due() == 2
    assert await notifier.run_due() == 0  # once a day
    found = await rows(env, sa.select(webhook_events.c.user_id).where(webhook_events.c.type == "checkin.reminder"))
    assert sorted(r.user_id for r in found) == ["b", "c"]  # signed in before, not today; d is new today


async def test_quiet_hours_and_daily_cap(env: Env) -> None:
    outbound = env.platform.outbound
    config = dataclasses.replace(outbound.config, daily_cap=2, quiet_hours=(22, 8))
    lottery = await env.create(coupon_wheel())
    await endpoint(env, "http://127.0.0.1:9/x", ["prize.won"])
    env.clock.set(datetime(2026, 6, 1, 23, 0, tzinfo=SHANGHAI))
    await grants(env, lottery["id"], 3)
    endpoints = await outbound.repository.enabled_endpoints()

    async def fan(now: datetime) -> dict[str, Any]:
        env.clock.set(now)
        now_ms = env.clock.now_ms()
        events = await outbound.repository.claim_events("t" + str(now_ms), now_ms, 60_000, 100)
        await fan_out(outbound.repository, endpoints, events, config, now_ms)
        won = webhook_events.c.type == "prize.won"
        found = await rows(env, sa.select(webhook_events.c.state, webhook_events.c.not_before_ms).where(won))
        return {"states": sorted(r.state for r in found), "not_before": {r.not_before_ms for r in found}}

    quiet = await fan(datetime(2026, 6, 1, 23, 0, tzinfo=SHANGHAI))
    morning = int(datetime(2026, 6, 2, 8, 0, tzinfo=SHANGHAI).timestamp() * 1000)
    assert quiet["states"] == ["new"] * 3 and quiet["not_before"] == {morning}  # waits for 08:00 local
    later = await fan(datetime(2026, 6, 2, 8, 0, tzinfo=SHANGHAI))
    assert later["states"] == ["capped", "fanned", "fanned"]  # at most 2 a day for the member


async def test_a_sign_in_coupon_reward_is_fulfilled_too(env: Env) -> None:
    daily = {"type": "coupon", "coupon": "DAILY5", "name": "5 CNY coupon"}
    activity = await env.create(checkin_spec(checkin={"daily_reward": daily}))
    response = await env.sign_in(activity["id"], "s1")
    assert response.status_code in (200, 201), response.text
    await env.platform.audit_writer.drain()
    [prize] = (await env.client.get("/me/prizes", headers=env.player("s1"))).json()["items"]
    assert prize["grant_id"].startswith("ck:") and prize["prize"]["type"] == "coupon"
    assert prize["prize"]["name"] == "DAILY5" and prize["status"] == "pending"
    types = sorted(r.type for r in await rows(env, sa.select(webhook_events.c.type)))
    assert types == ["fulfilment.requested"]  # no prize.won: no endpoint subscribes to it
    issued = await env.client.post(
        f"/operator/fulfilments/{prize['grant_id']}/issue", json={"code": "CODE-1"}, headers=env.operator()
    )
    assert issued.status_code == 200, issued.text


async def test_reservation_and_initiative_notifications(env: Env) -> None:
    notifier = env.platform.outbound.notifier
    sneakers = await env.create(reservation_spec())
    codes = {}
    for user in ("r1", "r2"):
        reserved = await env.reserve(sneakers["id"], "2026-06-03", user=user)
        assert reserved.status_code == 201, reserved.text
        codes[user] = reserved.json()["code"]
    code = codes["r2"]
    assert (await env.cancel(sneakers["id"], code, user="r2")).status_code == 200
    assist = await env.create(assist_spec())
    started = (await env.start(assist["id"], "i1")).json()
    done = (await env.start(assist["id"], "i2")).json()
    for helper in ("h1", "h2", "h3"):
        assert (await env.help(done["share_token"], helper)).status_code in (200, 201)
    await env.platform.audit_writer.drain()
    assert await notifier.run_due() == 1  # the completed initiative
    env.clock.set(datetime(2026, 6, 2, 11, 30, tzinfo=SHANGHAI))  # within the hour of i1's deadline
    env.clock.advance(minutes=1)
    await notifier.run_due()
    env.clock.set(datetime(2026, 6, 3, 9, 0, tzinfo=SHANGHAI))
    await notifier.run_due()
    found = await rows(env, sa.select(webhook_events.c.type, webhook_events.c.user_id, webhook_events.c.ref))
    by_type = {(r.type, r.user_id) for r in found}
    assert by_type == {
        ("initiative.completed", "i2"),
        ("initiative.expiring", "i1"),
        ("reservation.reminder", "r1"),  # r2 cancelled
    }
    assert {r.ref for r in found if r.type.startswith("initiative")} == {
        started["initiative_id"],
        done["initiative_id"],
    }


async def test_assist_prizes_get_their_fulfilment_records_from_the_scan(env: Env) -> None:
    outbound = env.platform.outbound
    gift = await env.create(assist_spec())
    won = (await env.start(gift["id"], "g1")).json()
    await env.start(gift["id"], "g2")  # not completed: nothing
    for helper in ("h1", "h2", "h3"):
        assert (await env.help(won["share_token"], helper)).status_code in (200, 201)
    await env.platform.audit_writer.drain()
    now = env.clock.now_ms()
    assert await record_assist_grants(env.platform.engine, outbound.producer, now) == 1
    assert await record_assist_grants(env.platform.engine, outbound.producer, now) == 0  # once
    [prize] = (await env.client.get("/me/prizes", headers=env.player("g1"))).json()["items"]
    assert prize["grant_id"] == won["initiative_id"]
    assert (prize["prize"]["type"], prize["prize"]["name"], prize["address_required"]) == ("goods", "Gift box", True)
    assert (await env.client.get("/me/prizes", headers=env.player("g2"))).json()["items"] == []
    response = await env.client.put(
        f"/me/prizes/{won['initiative_id']}/address", json=ADDRESS, headers=env.player("g1")
    )
    assert response.status_code == 200, response.text
