"""Task-type assist (任务型助力): a friend_assist task counts friends' assists through the
member's share code, once per friend and period, never the member themselves; 200 friends at
once count exactly 200; the count and who helped survive a Redis flush (rebuilt from SQL)."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa

from tasks.db import task_assists
from tests.conftest import Env
from tests.integration.test_event_gift import balance


def spec(target: int = 3, **task: Any) -> dict[str, Any]:
    return {
        "type": "tasks",
        "name": "Invite friends",
        "starts_at": "2026-05-01T00:00:00+08:00",
        "ends_at": "2026-07-01T00:00:00+08:00",
        "tasks": {
            "tasks": [
                {
                    "id": "friends",
                    "name": "Get 3 friends to help today",
                    "period": "daily",
                    "event": "friend_assist",
                    "target": target,
                    "reward": {"type": "points", "points": 10},
                    **task,
                },
                {
                    "id": "share1",
                    "name": "Share once",
                    "period": "daily",
                    "event": "shared",
                    "target": 1,
                    "reward": {"type": "points", "points": 1},
                },
            ]
        },
    }


def expect(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


async def tasks_of(env: Env, activity_id: int, user: str) -> dict[str, dict[str, Any]]:
    response = await env.client.get(f"/activities/{activity_id}/tasks", headers=env.player(user))
    assert response.status_code == 200, response.text
    return {item["id"]: item for item in response.json()["items"]}


async def assist(env: Env, activity_id: int, code: str, friend: str, task: str = "friends") -> Any:
    path = f"/activities/{activity_id}/tasks/{task}/assists"
    return await env.client.post(path, json={"share_code": code}, headers=env.player(friend))


async def test_friends_count_once_and_never_the_sharer(env: Env) -> None:
    activity = await env.create(spec())
    aid = activity["id"]
    mine = await tasks_of(env, aid, "s1")
    code = mine["friends"]["share_code"]
    assert code and mine["share1"]["share_code"] is None
    first = await assist(env, aid, code, "f1")
    assert first.status_code == 200, first.text
    assert (first.json()["progress"], first.json()["target"], first.json()["completed"]) == (1, 3, False)
    again = expect(await assist(env, aid, code, "f1"), 409, "already_assisted")
    assert again["details"] == {"progress": 1, "target": 3}
    expect(await assist(env, aid, code, "s1"), 403, "self_help")
    expect(await assist(env, aid, code + "x", "f2"), 404, "share_code_invalid")
    other = (await tasks_of(env, aid, "s2"))["friends"]["share_code"]
    expect(await assist(env, aid, other, "f1", task="share1"), 409, "task_not_shareable")
    expect(await assist(env, aid, code, "f1", task="nope"), 404, "task_not_found")
    # The same friend may help another member.
    assert (await assist(env, aid, other, "f1")).status_code == 200
    for friend in ("f2", "f3"):
        assert (await assist(env, aid, code, friend)).status_code == 200
    mine = await tasks_of(env, aid, "s1")
    assert (mine["friends"]["progress"], mine["friends"]["completed"]) == (3, True)
    claimed = await env.client.post(f"/activities/{aid}/tasks/friends/claims", headers=env.player("s1"))
    assert claimed.status_code == 200, claimed.text
    assert await balance(env, "s1") == 10
    # A new day: the progress and the friends' slate start again.
    env.clock.advance(days=1)
    assert (await assist(env, aid, code, "f1")).json()["progress"] == 1


async def test_200_friends_at_once_count_exactly(env: Env) -> None:
    activity = await env.create(spec(target=500))
    aid = activity["id"]
    code = (await tasks_of(env, aid, "s1"))["friends"]["share_code"]
    results = await asyncio.gather(*(assist(env, aid, code, f"f{i}") for i in range(200)))
    assert [r.status_code for r in results] == [200] * 200
    assert sorted(r.json()["progress"] for r in results) == list(range(1, 201))
    same = await asyncio.gather(*(assist(env, aid, code, "g1") for _ in range(50)))
    assert sorted(r.status_code for r in same) == [200] + [409] * 49
    assert (await tasks_of(env, aid, "s1"))["friends"]["progress"] == 201
    await env.platform.audit_writer.drain()
    async with env.platform.engine.connect() as conn:
        rows = (await conn.execute(sa.select(sa.func.count()).select_from(task_assists))).scalar_one()
    assert rows == 201


async def test_assists_are_rebuilt_from_sql(env: Env) -> None:
    activity = await env.create(spec())
    aid = activity["id"]
    code = (await tasks_of(env, aid, "s1"))["friends"]["share_code"]
    for friend in ("f1", "f2"):
        assert (await assist(env, aid, code, friend)).status_code == 200
    await env.platform.audit_writer.drain()
    await env.platform.redis.flushall()
    expect(await assist(env, aid, code, "f1"), 409, "already_assisted")
    assert (await assist(env, aid, code, "f3")).json()["progress"] == 3


async def test_deny_lists_and_rules(env: Env) -> None:
    ops = env.operator()
    deny = await env.client.post(
        "/operator/lists", json={"name": "Fraud", "kind": "deny", "members": ["bot1"]}, headers=ops
    )
    assert deny.status_code == 201, deny.text
    activity = await env.create(spec() | {"audience": {"lists": {"exclude": [deny.json()["id"]]}}})
    code = (await tasks_of(env, activity["id"], "s1"))["friends"]["share_code"]
    expect(await assist(env, activity["id"], code, "bot1"), 403, "audience_excluded")
    assert (await assist(env, activity["id"], code, "f1")).status_code == 200
    bad = spec(measure="amount")
    response = await env.client.post("/operator/activities", json=bad, headers=ops)
    expect(response, 422, "friend_assist_invalid")
