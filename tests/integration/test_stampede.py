"""After a flush, a crowd of requests for one activity rebuilds it once: single-flight in the
process, a Redis lock across processes; the others wait briefly or get a 503 `activity_loading`
with Retry-After; no rebuild holds a Redis connection while it reads SQL; a SQL pool timeout is a
503 with a code, never a 500."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa
import sqlalchemy.exc

from activities import service as service_module
from activities.clock import FixedClock
from activities.keys import ActivityKeys
from activities.recovery import activity_epochs
from api.platform import Platform
from lottery.service import DrawService
from lottery.snapshot import Snapshot
from tests.conftest import Env, asgi_client, wheel


async def loads(env: Env, activity_id: int) -> int:
    async with env.platform.engine.connect() as conn:
        query = sa.select(activity_epochs.c.loads).where(activity_epochs.c.activity_id == activity_id)
        return int((await conn.execute(query)).scalar_one())


def slow_snapshots(platform: Platform, monkeypatch: pytest.MonkeyPatch, seen: list[int]) -> None:
    """Make the SQL read of a rebuild slow, and note how many Redis connections are in use then."""
    admin = platform.service(DrawService).admin
    original = admin.snapshot

    async def snapshot(activity: Any) -> Snapshot:
        await asyncio.sleep(0.3)
        seen.append(len(platform.redis.connection_pool._in_use_connections))
        return await original(activity)

    monkeypatch.setattr(admin, "snapshot", snapshot)


def check_answers(answers: list[Any]) -> Counter[int]:
    statuses = Counter(r.status_code for r in answers)
    assert set(statuses) <= {201, 503}, statuses
    for r in answers:
        if r.status_code == 503:
            assert r.json()["code"] == "activity_loading" and r.headers["Retry-After"] == "1"
    return statuses


async def test_two_hundred_requests_after_a_flush_rebuild_once(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    activity = await env.create(wheel(limits={"per_user_daily": 5}))
    seen: list[int] = []
    slow_snapshots(env.platform, monkeypatch, seen)
    await env.platform.redis.flushall()
    answers = await asyncio.gather(*(env.draw(activity["id"], user=f"u{i}") for i in range(200)))
    check_answers(answers)
    assert len(seen) == 1 and await loads(env, activity["id"]) == 2  # the publish, then one rebuild
    assert (await env.draw(activity["id"], user="later")).status_code == 201


async def test_a_rebuild_reads_sql_holding_no_redis_connection(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    activity = await env.create(wheel())
    seen: list[int] = []
    slow_snapshots(env.platform, monkeypatch, seen)
    await env.platform.redis.flushall()
    assert (await env.draw(activity["id"])).status_code == 201
    assert seen == [0]  # nothing else runs: any connection in use would be the rebuild's


async def test_two_processes_rebuild_once_between_them(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    activity = await env.create(wheel(limits={"per_user_daily": 5}))
    other = Platform.build(env.platform.settings, clock=FixedClock(env.clock.now_ms()))
    seen: list[int] = []
    slow_snapshots(env.platform, monkeypatch, seen)
    slow_snapshots(other, monkeypatch, seen)
    await env.platform.redis.flushall()
    try:
        async with asgi_client(other) as second:

            async def draw(client: Any, user: str) -> Any:
                headers = {**env.player(user), "Idempotency-Key": secrets.token_hex(8)}
                return await client.post(f"/activities/{activity['id']}/draws", headers=headers)

            answers = await asyncio.gather(
                *(draw(env.client, f"a{i}") for i in range(100)), *(draw(second, f"b{i}") for i in range(100))
            )
    finally:
        await other.close()
    check_answers(answers)
    assert len(seen) == 1 and await loads(env, activity["id"]) == 2
    assert (await env.draw(activity["id"], user="later")).status_code == 201


async def test_a_rebuild_lock_held_elsewhere_answers_503_with_retry_after(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    activity = await env.create(wheel())
    monkeypatch.setattr(service_module, "LOAD_WAIT_S", 0.3)
    await env.platform.redis.flushall()
    keys = ActivityKeys(activity["id"])
    await env.platform.redis.set(keys.loading, "another-process", px=30_000)  # a rebuild elsewhere
    waiting = await env.draw(activity["id"])
    assert waiting.status_code == 503 and waiting.json()["code"] == "activity_loading"
    assert waiting.headers["Retry-After"] == "1"
    await env.platform.redis.delete(keys.loading)  # it died; or its lock expired
    assert (await env.draw(activity["id"])).status_code == 201


async def test_a_sql_pool_timeout_is_a_503_with_a_code(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    activity = await env.create(wheel())
    env.platform.activities._cache.clear()

    async def pool_dry(*_args: Any, **_kwargs: Any) -> None:
        raise sqlalchemy.exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached")

    monkeypatch.setattr(env.platform.activities.repository, "get", pool_dry)
    response = await env.draw(activity["id"])
    assert response.status_code == 503 and response.json()["code"] == "database_busy"
    assert response.headers["Retry-After"] == "1"
