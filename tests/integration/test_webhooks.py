"""Outbound webhooks end to end in-process: grants -> outbox (in the audit writer's transaction)
-> dispatcher -> a real local HTTP receiver that checks Standard Webhooks signatures."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from typing import Any

import sqlalchemy as sa

from lottery import db as lottery_db
from outbound.db import fulfilments, webhook_deliveries, webhook_events
from outbound.dispatcher import Dispatcher
from outbound.model import RETRY_SCHEDULE_S
from tests.conftest import Env, wheel
from tests.integration.webhook_receiver import Receiver


def coupon_wheel(**overrides: Any) -> dict[str, Any]:
    spec = wheel(
        limits={"per_user_daily": 1000},
        prizes=[
            {"name": "Coupon", "type": "coupon", "weight": 1000, "stock": 100_000, "value_cny": 10},
            {"name": "Thanks", "type": "thanks", "weight": 0},
        ],
    )
    spec.update(overrides)
    return spec


def goods_wheel() -> dict[str, Any]:
    return coupon_wheel(
        prizes=[
            {"name": "Phone", "type": "goods", "weight": 1000, "stock": 100, "value_cny": 4999},
            {"name": "Thanks", "type": "thanks", "weight": 0},
        ]
    )


async def endpoint(env: Env, url: str, types: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    body = {"url": url, "event_types": types or ["fulfilment.requested"], **extra}
    response = await env.client.post("/operator/webhooks", json=body, headers=env.operator())
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    assert created["secret"].startswith("whsec_")
    return created


async def grants(env: Env, activity_id: int, n: int, users: int = 1) -> list[str]:
    ids = []
    for i in range(n):
        response = await env.draw(activity_id, user=f"m{i % users}")
        assert response.status_code == 201, response.text
        ids.append(response.json()["draw_id"])
    await env.platform.audit_writer.drain()
    return ids


def dispatcher(env: Env, **config: Any) -> Dispatcher:
    outbound = env.platform.outbound
    settings = dataclasses.replace(outbound.config, **({"timeout_s": 1.0} | config))
    return Dispatcher(outbound.repository, outbound.sealer, env.clock, settings, poll_interval_s=0.01)


async def rows(env: Env, query: Any) -> list[Any]:
    async with env.platform.engine.connect() as conn:
        return list((await conn.execute(query)).all())


async def test_grant_writes_its_fulfilment_and_events_with_it(env: Env) -> None:
    lottery = await env.create(coupon_wheel())
    await endpoint(env, "http://127.0.0.1:9/messaging", ["prize.won"])  # else no prize.won is written
    ids = await grants(env, lottery["id"], 3)
    found = await rows(env, sa.select(fulfilments.c.grant_id, fulfilments.c.status))
    assert sorted(found) == sorted((i, "pending") for i in ids)
    events = Counter(r.type for r in await rows(env, sa.select(webhook_events.c.type)))
    assert events == {"prize.won": 3, "fulfilment.requested": 3}
    # A second delivery of the same stream entries (the writer's at-least-once) adds nothing.
    writer = env.platform.audit_writer
    for draw in await rows(env, sa.select(lottery_db.draws)):
        extra = await writer.producers[0](lottery["id"], "1-1", {}, [(lottery_db.draws, dict(draw._mapping))])
        await writer.repository.insert_rows({table: [row] for table, row in extra})
    assert len(await rows(env, sa.select(fulfilments.c.id))) == 3
    assert len(await rows(env, sa.select(webhook_events.c.id))) == 6
    mine = (await env.client.get("/me/prizes", headers=env.player("m0"))).json()
    assert [p["grant_id"] for p in mine["items"]] == ids[::-1]
    assert {p["status"] for p in mine["items"]} == {"pending"}
    assert mine["items"][0]["prize"] == {"id": lottery["prizes"][0]["id"], "name": "Coupon", "type": "coupon"}


async def test_signed_delivery_retries_on_schedule_then_issued(env: Env) -> None:
    receiver = Receiver(fail_first=2).start()
    try:
        lottery = await env.create(coupon_wheel())
        hook = await endpoint(env, receiver.url("/flaky"))
        receiver.secrets = [hook["secret"]]
        [grant] = await grants(env, lottery["id"], 1)
        d = dispatcher(env)
        await d.drain()
        assert receiver.ids() == [f"msg_ful_{grant}"]  # failed once; nothing before its time
        env.clock.advance(seconds=RETRY_SCHEDULE_S[0] - 1)
        await d.drain()
        assert len(receiver.ids()) == 1
        env.clock.advance(seconds=1)
        await d.drain()
        assert len(receiver.ids()) == 2  # the 5 s retry, failed again
        env.clock.advance(seconds=RETRY_SCHEDULE_S[1])
        await d.drain()
        assert receiver.ids(answered=200) == [f"msg_ful_{grant}"]
        assert all(r.verified[hook["secret"]] for r in receiver.requests)
        payload = receiver.payloads()[-1]
        assert payload["type"] == "fulfilment.requested"
        assert payload["data"]["grant_id"] == grant and payload["data"]["member"] == "m0"
        [delivery] = await rows(env, sa.select(webhook_deliveries))
        assert (delivery.status, delivery.attempts) == ("delivered", 3)
        mine = (await env.client.get("/me/prizes", headers=env.player("m0"))).json()["items"][0]
        assert (mine["status"], mine["code"]) == ("delivered", None)
        # The CRM confirms through the callback: the member sees the coupon code.
        path = f"/operator/fulfilments/{grant}/issue"
        response = await env.client.post(path, json={"code": "CPN-123"}, headers=env.operator())
        assert response.status_code == 200, response.text
        again = await env.client.post(path, json={"code": "CPN-123"}, headers=env.operator())
        assert again.status_code == 200
        other = await env.client.post(path, json={"code": "CPN-999"}, headers=env.operator())
        assert other.status_code == 409 and other.json()["code"] == "fulfilment_closed"
        mine = (await env.client.get("/me/prizes", headers=env.player("m0"))).json()["items"][0]
        assert (mine["status"], mine["code"]) == ("issued", "CPN-123")
        await d.close()
    finally:
        receiver.stop()


async def test_hung_endpoint_does_not_block_the_others(env: Env) -> None:
    receiver = Receiver().start()
    try:
        lottery = await env.create(coupon_wheel())
        hung = await endpoint(env, receiver.url("/hang"), max_in_flight=2)
        fine = await endpoint(env, receiver.url("/ok"))
        await grants(env, lottery["id"], 6, users=3)
        d = dispatcher(env, timeout_s=30.0)
        for _ in range(20):
            await d.step()
            await asyncio.sleep(0.05)
            if len(receiver.ids("/ok")) == 6:
                break
        assert len(receiver.ids("/ok")) == 6  # all of them, while two hang on the other endpoint
        assert len(receiver.ids("/hang")) == 2  # its own limit: no more than 2 at once
        await asyncio.sleep(0.1)
        await d.flush()  # the outcomes of the finished attempts
        delivered = await rows(
            env, sa.select(webhook_deliveries.c.endpoint_id).where(webhook_deliveries.c.status == "delivered")
        )
        assert {r.endpoint_id for r in delivered} == {fine["id"]} and len(delivered) == 6
        assert hung["id"] != fine["id"]
        d.abandon()
        await d.close(grace_s=0)
    finally:
        receiver.stop()


async def test_worker_restart_mid_delivery_loses_and_duplicates_nothing(env: Env) -> None:
    receiver = Receiver().start()
    try:
        lottery = await env.create(coupon_wheel())
        hook = await endpoint(env, receiver.url("/hang"))
        ids = await grants(env, lottery["id"], 5, users=5)
        first = dispatcher(env, timeout_s=30.0)
        await first.step()
        for _ in range(100):
            if len(receiver.ids()) == 5:
                break
            await asyncio.sleep(0.05)
        assert len(receiver.ids()) == 5  # all five in flight, none answered
        first.abandon()  # the worker dies mid-delivery: nothing recorded, the leases stand
        async with env.platform.engine.begin() as conn:  # the endpoint comes back to life
            await conn.execute(sa.text("UPDATE webhook_endpoints SET url = :u"), {"u": receiver.url("/ok")})
        second = dispatcher(env)
        await second.drain()
        assert receiver.ids("/ok") == []  # a lease is a lease: not before it ends
        env.clock.advance(seconds=first.lease_ms / 1000 + 1)
        await second.drain()
        expected = {f"msg_ful_{g}" for g in ids}
        assert set(receiver.ids("/ok")) == expected and len(receiver.ids("/ok")) == 5  # the same ids, once each
        found = await rows(env, sa.select(webhook_deliveries.c.status, webhook_deliveries.c.endpoint_id))
        assert len(found) == 5 and {r.status for r in found} == {"delivered"}
        assert {r.endpoint_id for r in found} == {hook["id"]}
        await first.close(grace_s=0)
        await second.close()
    finally:
        receiver.stop()


async def test_rotation_signs_with_both_secrets_during_the_overlap_only(env: Env) -> None:
    receiver = Receiver().start()
    try:
        lottery = await env.create(coupon_wheel())
        hook = await endpoint(env, receiver.url("/ok"), ["prize.won"])
        old = hook["secret"]
        response = await env.client.post(
            f"/operator/webhooks/{hook['id']}/rotate", json={"overlap_s": 3600}, headers=env.operator()
        )
        assert response.status_code == 200, response.text
        new = response.json()["secret"]
        assert new != old and response.json()["previous_secret_until"] is not None
        listed = (await env.client.get("/operator/webhooks", headers=env.operator())).json()["items"]
        assert [item["secret"] for item in listed] == [None]  # shown once
        receiver.secrets = [old, new]
        d = dispatcher(env)
        await grants(env, lottery["id"], 1, users=1)
        await d.drain()
        assert receiver.requests[-1].verified == {old: True, new: True}
        env.clock.advance(seconds=3601)
        await grants(env, lottery["id"], 1, users=1)
        await d.drain()
        assert receiver.requests[-1].verified == {old: False, new: True}
        missing = await env.client.post("/operator/webhooks/999/rotate", json={"bad": 1}, headers=env.operator())
        assert missing.status_code == 404
        await d.close()
    finally:
        receiver.stop()


async def test_dead_letter_then_resend(env: Env) -> None:
    receiver = Receiver().start()
    try:
        lottery = await env.create(coupon_wheel())
        hook = await endpoint(env, receiver.url("/fail"))
        [grant] = await grants(env, lottery["id"], 1)
        d = dispatcher(env)
        d.breaker_threshold = 100  # this test is about the schedule, not the breaker
        await d.drain()
        for wait in RETRY_SCHEDULE_S:
            env.clock.advance(seconds=wait)
            await d.drain()
        assert len(receiver.ids()) == len(RETRY_SCHEDULE_S) + 1
        dead = (await env.client.get("/operator/deliveries?status=dead", headers=env.operator())).json()["items"]
        assert [(x["webhook_id"], x["attempts"]) for x in dead] == [(f"msg_ful_{grant}", 7)]
        mine = (await env.client.get("/me/prizes", headers=env.player("m0"))).json()["items"][0]
        assert mine["status"] == "failed"
        async with env.platform.engine.begin() as conn:
            await conn.execute(sa.text("UPDATE webhook_endpoints SET url = :u"), {"u": receiver.url("/ok")})
        response = await env.client.post(f"/operator/deliveries/{dead[0]['id']}/resend", headers=env.operator())
        assert response.status_code == 200, response.text
        await d.drain()
        assert receiver.ids("/ok") == [f"msg_ful_{grant}"]
        mine = (await env.client.get("/me/prizes", headers=env.player("m0"))).json()["items"][0]
        assert mine["status"] == "delivered"
        assert (await env.client.post("/operator/deliveries/99/resend", headers=env.operator())).status_code == 404
        assert hook["id"] == 1
        await d.close()
    finally:
        receiver.stop()


async def test_circuit_breaker_stops_claiming_then_lets_one_through(env: Env) -> None:
    receiver = Receiver().start()
    try:
        lottery = await env.create(coupon_wheel())
        await endpoint(env, receiver.url("/fail"), max_in_flight=1)
        await grants(env, lottery["id"], 12, users=12)
        d = dispatcher(env)
        d.breaker_cooldown_ms = 60_000
        for _ in range(3):  # the five first attempts fail, one at a time; then the circuit is open
            await d.drain()
            env.clock.advance(seconds=RETRY_SCHEDULE_S[0])
        assert len(receiver.ids()) == 5
        env.clock.advance(seconds=60)
        await d.step()
        await d.settle()
        assert len(receiver.ids()) == 6  # half open: one attempt, failed: open again
        await d.step()
        await d.settle()
        assert len(receiver.ids()) == 6
        await d.close()
    finally:
        receiver.stop()


async def test_a_disabled_endpoint_waits_until_enabled_again(env: Env) -> None:
    receiver = Receiver().start()
    try:
        lottery = await env.create(coupon_wheel())
        hook = await endpoint(env, receiver.url("/ok"))
        path = f"/operator/webhooks/{hook['id']}"
        off = await env.client.patch(path, json={"enabled": False}, headers=env.operator())
        assert off.status_code == 200 and off.json()["enabled"] is False and off.json()["secret"] is None
        bad = await env.client.patch(path, json={"event_types": ["nope"]}, headers=env.operator())
        assert bad.status_code == 422
        missing = await env.client.patch("/operator/webhooks/77", json={"x": 1}, headers=env.operator())
        assert missing.status_code == 404
        [grant] = await grants(env, lottery["id"], 1)
        d = dispatcher(env)
        await d.drain()
        assert receiver.ids() == []
        assert (await env.client.patch(path, json={"enabled": True}, headers=env.operator())).status_code == 200
        env.clock.advance(minutes=1)  # a fulfilment event without a subscriber is looked at again each minute
        await d.drain()
        assert receiver.ids() == [f"msg_ful_{grant}"]
        await d.close()
    finally:
        receiver.stop()


async def test_an_endpoint_that_times_out_is_retried_on_schedule(env: Env) -> None:
    receiver = Receiver().start()
    try:
        lottery = await env.create(coupon_wheel())
        await endpoint(env, receiver.url("/hang"))
        [grant] = await grants(env, lottery["id"], 1)
        d = dispatcher(env, timeout_s=0.5)
        await d.drain()
        [delivery] = await rows(env, sa.select(webhook_deliveries))
        assert (delivery.status, delivery.attempts) == ("pending", 1)
        assert "Timeout" in delivery.last_error and delivery.last_status_code is None
        assert delivery.next_attempt_at_ms == env.clock.now_ms() + RETRY_SCHEDULE_S[0] * 1000
        assert receiver.ids() == [f"msg_ful_{grant}"]
        await d.close()
    finally:
        receiver.stop()
