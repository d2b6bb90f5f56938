"""POST /events: system tokens, idempotency per event id, whole-batch refusal naming the index,
custom types, and every new event in SQL once (the audit writer)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from events.db import member_events
from tests.conftest import NOW, Env


def system(env: Env, name: str = "crm1") -> dict[str, str]:
    return {"Authorization": f"Bearer {env.platform.tokens.issue(name, 'system')}"}


def event(event_id: str, member: str = "m1", type_: str = "shared", **attributes: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "member_id": member,
        "type": type_,
        "occurred_at": (NOW - timedelta(minutes=1)).isoformat(),
        "attributes": attributes,
    }


async def push(env: Env, events: list[dict[str, Any]], headers: dict[str, str] | None = None) -> Any:
    return await env.client.post("/events", json={"events": events}, headers=headers or system(env))


async def sql_events(env: Env) -> list[tuple[str, str, str]]:
    async with env.platform.engine.connect() as conn:
        query = sa.select(member_events.c.event_id, member_events.c.member_id, member_events.c.type)
        return sorted((str(a), str(b), str(c)) for a, b, c in (await conn.execute(query)).all())


async def test_new_then_replayed_and_in_sql_once(env: Env) -> None:
    batch = [event("e1"), event("e2", "m2", "order_paid", amount=250.5, items=[{"sku": "A", "qty": 1}]), event("e1")]
    first = await push(env, batch)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["accepted"], body["new"], body["replayed"]) == (3, 2, 1)
    assert [(e["event_id"], e["new"]) for e in body["events"]] == [("e1", True), ("e2", True), ("e1", False)]
    again = (await push(env, batch[:2])).json()
    assert again["new"] == 0 and again["replayed"] == 2
    await env.platform.audit_writer.drain()
    assert await sql_events(env) == [("e1", "m1", "shared"), ("e2", "m2", "order_paid")]


async def test_a_bad_event_refuses_the_whole_batch_with_its_index(env: Env) -> None:
    old = {**event("e3"), "occurred_at": (NOW - timedelta(days=8)).isoformat()}
    naive = {**event("e4"), "occurred_at": "2026-06-01T12:00:00"}
    cases = [
        ([event("e1"), event("e2", type_="teleported")], 1, "event_type_unknown", "events[1].type"),
        ([event("e1"), event("e2"), old], 2, "event_time_out_of_range", "events[2].occurred_at"),
        ([naive], 0, "event_time_invalid", "events[0].occurred_at"),
        ([event("e1"), event("e5", "m1", "order_paid")], 1, "event_attributes_invalid", "events[1].attributes.amount"),
        ([event("bad id!")], 0, "event_id_invalid", "events[0].event_id"),
        ([event("e6", "bad|member")], 0, "member_id_invalid", "events[0].member_id"),
    ]
    for batch, index, code, field in cases:
        response = await push(env, batch)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == code
        assert response.json()["details"]["index"] == index and response.json()["details"]["field"] == field
    too_many = await push(env, [event(f"x{i}") for i in range(1001)])
    assert too_many.status_code == 422 and too_many.json()["code"] == "batch_too_large"
    assert too_many.json()["details"]["index"] == 1000
    # nothing of a refused batch was recorded: e1 is new now
    accepted = await push(env, [event("e1")])
    assert accepted.json()["new"] == 1
    await env.platform.audit_writer.drain()
    assert [e[0] for e in await sql_events(env)] == ["e1"]


async def test_only_system_tokens_push_events(env: Env) -> None:
    assert (await push(env, [event("e1")], headers=env.player("m1"))).status_code == 403
    assert (await push(env, [event("e1")], headers=env.operator())).json()["code"] == "system_token_required"
    assert (await env.client.post("/events", json={"events": []})).status_code == 401
    wrong_shape = await env.client.post("/events", json={"events": [{"event_id": "e1"}]}, headers=system(env))
    assert wrong_shape.status_code == 422 and wrong_shape.json()["details"]["field"].startswith("events[0]")


async def test_custom_types_declared_by_operators(env: Env) -> None:
    assert (await push(env, [event("e1", type_="store_visited")])).json()["code"] == "event_type_unknown"
    declared = await env.client.post(
        "/operator/event-types", json={"name": "store_visited", "description": "到店"}, headers=env.operator()
    )
    assert declared.status_code == 200, declared.text
    builtin = await env.client.post("/operator/event-types", json={"name": "shared"}, headers=env.operator())
    assert builtin.status_code == 422 and builtin.json()["code"] == "event_type_builtin"
    assert (await push(env, [event("e1", type_="store_visited")])).json()["new"] == 1
    listed = (await env.client.get("/operator/event-types", headers=env.operator())).json()
    assert {"name": "store_visited", "description": "到店", "builtin": False} in listed
    assert any(t["name"] == "order_paid" and t["builtin"] for t in listed)


async def test_concurrent_replays_record_each_event_once(env: Env) -> None:
    batch = [event(f"c{i}", f"m{i % 7}") for i in range(200)]
    answers = await asyncio.gather(*(push(env, batch) for _ in range(20)))
    assert all(a.status_code == 200 for a in answers)
    assert sum(a.json()["new"] for a in answers) == 200
    for index in range(200):  # each event new in exactly one answer
        assert sum(a.json()["events"][index]["new"] for a in answers) == 1
    await env.platform.audit_writer.drain()
    assert len(await sql_events(env)) == 200
