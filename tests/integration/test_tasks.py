"""The task centre: progress from members' events, claims once per period (200 at once give one
reward), progress reset at the local day's end, rebuilt from SQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from tests.conftest import NOW, Env
from tests.integration.test_event_gift import balance
from tests.integration.test_events import event, push


def tasks_spec() -> dict[str, Any]:
    return {
        "type": "tasks",
        "name": "Task centre",
        "starts_at": "2026-05-01T00:00:00+08:00",
        "ends_at": "2026-07-01T00:00:00+08:00",
        "timezone": "Asia/Shanghai",
        "tasks": {
            "tasks": [
                {
                    "id": "share3",
                    "name": "Share 3 times today",
                    "period": "daily",
                    "event": "shared",
                    "target": 3,
                    "reward": {"type": "points", "points": 10},
                },
                {
                    "id": "spend500",
                    "name": "Spend 500 CNY this week",
                    "period": "weekly",
                    "event": "order_paid",
                    "measure": "amount",
                    "target": 500,
                    "reward": {"type": "points", "points": 100},
                },
                {
                    "id": "profile",
                    "name": "Complete the profile",
                    "period": "once",
                    "event": "profile_completed",
                    "target": 1,
                    "reward": {"type": "coupon", "coupon": "WELCOME", "name": "Welcome coupon"},
                },
            ]
        },
    }


async def tasks_of(env: Env, activity_id: int, user: str = "m1") -> dict[str, dict[str, Any]]:
    response = await env.client.get(f"/activities/{activity_id}/tasks", headers=env.player(user))
    assert response.status_code == 200, response.text
    return {task["id"]: task for task in response.json()["items"]}


async def claim(env: Env, activity_id: int, task: str, user: str = "m1") -> Any:
    return await env.client.post(f"/activities/{activity_id}/tasks/{task}/claims", headers=env.player(user))


def at(minutes_ago: int = 1) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).isoformat()


async def test_progress_claim_and_reset(env: Env) -> None:
    activity = await env.create(tasks_spec())
    aid = activity["id"]
    await push(env, [event("s1"), event("s2"), event("o1", type_="order_paid", amount=320)])
    tasks = await tasks_of(env, aid)
    assert (tasks["share3"]["progress"], tasks["share3"]["completed"]) == (2, False)
    assert tasks["spend500"]["progress"] == 320
    assert tasks["share3"]["resets_at"] == "2026-06-02T00:00:00+08:00"
    early = await claim(env, aid, "share3")
    assert early.status_code == 409 and early.json()["code"] == "task_not_completed"
    assert early.json()["details"] == {"progress": 2, "target": 3}
    await push(env, [event("s3"), event("s3"), event("o2", type_="order_paid", amount=200)])  # s3 replayed
    first = await claim(env, aid, "share3")
    assert first.status_code == 200 and first.json()["replayed"] is False
    again = await claim(env, aid, "share3")
    assert again.json()["replayed"] is True and again.json()["claim_id"] == first.json()["claim_id"]
    assert (await claim(env, aid, "spend500")).status_code == 200
    assert await balance(env, "m1") == 110
    assert (await claim(env, aid, "nope")).json()["code"] == "task_not_found"
    env.clock.advance(days=1)  # the daily task resets at local midnight; the weekly one does not
    tasks = await tasks_of(env, aid)
    assert (tasks["share3"]["progress"], tasks["share3"]["claimed"]) == (0, False)
    assert (tasks["spend500"]["progress"], tasks["spend500"]["claimed"]) == (520, True)


async def test_200_concurrent_claims_give_one_reward(env: Env) -> None:
    aid = (await env.create(tasks_spec()))["id"]
    await push(env, [event(f"s{i}") for i in range(3)])
    answers = await asyncio.gather(*(claim(env, aid, "share3") for _ in range(200)))
    assert all(a.status_code == 200 for a in answers)
    assert len({a.json()["claim_id"] for a in answers}) == 1
    assert sum(not a.json()["replayed"] for a in answers) == 1
    assert await balance(env, "m1") == 10


async def test_rebuilt_from_sql(env: Env) -> None:
    aid = (await env.create(tasks_spec()))["id"]
    await push(env, [event("s1"), event("s2"), event("s3"), event("p1", type_="profile_completed")])
    assert (await claim(env, aid, "profile")).status_code == 200
    await env.platform.audit_writer.drain()
    await env.platform.redis.flushall()
    tasks = await tasks_of(env, aid)
    assert tasks["share3"]["progress"] == 3 and tasks["profile"]["claimed"] is True
    assert (await claim(env, aid, "profile")).json()["replayed"] is True


async def test_the_platforms_own_actions_count(env: Env) -> None:
    from tests.conftest import checkin_spec, wheel

    spec = tasks_spec()
    spec["tasks"]["tasks"] = [
        {"id": "signin", "name": "Sign in", "period": "daily", "event": "signed_in", "target": 1,
         "reward": {"type": "points", "points": 5}},
        {"id": "draw2", "name": "Draw twice", "period": "daily", "event": "drew", "target": 2,
         "reward": {"type": "points", "points": 7}},
    ]  # fmt: skip
    aid = (await env.create(spec))["id"]
    checkin = (await env.create(checkin_spec()))["id"]
    lottery = (await env.create(wheel()))["id"]
    assert (await env.sign_in(checkin, "m1")).status_code == 201
    assert [(await env.draw(lottery, "m1")).status_code for _ in range(2)] == [201, 201]
    await env.platform.audit_writer.drain()  # the writer's producer records them as events
    await env.platform.audit_writer.drain()
    tasks = await tasks_of(env, aid)
    assert (tasks["signin"]["progress"], tasks["draw2"]["progress"]) == (1, 2)
    await env.platform.audit_writer.drain()
    # the writer delivering the same entries again records nothing more
    assert (await tasks_of(env, aid))["draw2"]["progress"] == 2
