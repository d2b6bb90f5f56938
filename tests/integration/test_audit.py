"""The audit writer: at least once into SQL, no duplicates, dead consumers' entries taken over,
nothing unacknowledged ever trimmed."""

from __future__ import annotations

import msgspec
import sqlalchemy as sa

from activities.audit import AuditWriter
from activities.keys import AUDIT_GROUP, ActivityKeys
from lottery import db as lottery_db
from lottery.audit import draw_row
from tests.conftest import Env, wheel


async def _sql_draws(env: Env) -> int:
    async with env.platform.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(lottery_db.draws))).scalar_one())


async def test_entries_of_a_dead_consumer_are_claimed_and_written_once(env: Env) -> None:
    activity = await env.create(wheel(limits={}))
    for i in range(20):
        assert (await env.draw(activity["id"], user=f"u{i}")).status_code == 201
    store = env.platform.audit_writer.store
    stream = ActivityKeys(activity["id"]).events
    # A consumer reads 20 entries and dies before writing or acknowledging them.
    taken = await store.read_new(stream, "dead-consumer", count=100)
    assert len(taken) == 20
    live = AuditWriter(
        store,
        env.platform.activities.repository,
        handlers=env.platform.audit_writer.handlers,
        consumer="live",
        claim_idle_ms=0,
    )
    await live.drain()
    assert await _sql_draws(env) == 20
    assert await store.backlog(stream) == 0


async def test_redelivered_entries_do_not_duplicate_rows(env: Env) -> None:
    activity = await env.create(wheel(limits={}))
    for i in range(5):
        await env.draw(activity["id"], user=f"u{i}")
    store = env.platform.audit_writer.store
    stream = ActivityKeys(activity["id"]).events
    entries = await store.read_new(stream, "c1", count=100)
    rows = {
        lottery_db.draws: [
            msgspec.structs.asdict(draw_row(activity["id"], entry_id, fields)) for entry_id, fields in entries
        ]
    }
    repository = env.platform.activities.repository
    await repository.insert_rows(rows)
    await repository.insert_rows(rows)  # a crash after commit but before XACK: delivered again
    await store.acknowledge(stream, [entry_id for entry_id, _ in entries])
    assert await _sql_draws(env) == 5


async def test_only_acknowledged_entries_are_trimmed(env: Env) -> None:
    activity = await env.create(wheel(limits={}))
    keys = ActivityKeys(activity["id"])
    redis = env.platform.redis
    for i in range(10):
        await env.draw(activity["id"], user=f"u{i}")
    store = env.platform.audit_writer.store
    first = await store.read_new(keys.events, "slow", count=4)  # pending, never acknowledged here
    second = await store.read_new(keys.events, "fast", count=6)
    await store.acknowledge(keys.events, [entry_id for entry_id, _ in second])
    await store.trim(keys.events)
    remaining = [entry_id for entry_id, _ in await redis.xrange(keys.events) or []]
    assert all(entry_id in remaining for entry_id, _ in first)  # the 4 unacknowledged ones stay
    pending = await redis.xpending(keys.events, AUDIT_GROUP)
    assert pending["pending"] == 4
    # Once they are acknowledged too, the stream is trimmed down to the newest entry.
    await store.acknowledge(keys.events, [entry_id for entry_id, _ in first])
    await store.trim(keys.events)
    assert await redis.xlen(keys.events) <= 1


async def test_writer_survives_a_flushed_redis(env: Env) -> None:
    activity = await env.create(wheel(limits={}))
    await env.draw(activity["id"])
    await env.platform.audit_writer.drain()
    await env.platform.redis.flushall()  # the stream and its group are gone
    assert await env.platform.audit_writer.step() == 0  # recreates the group instead of failing
    assert (await env.draw(activity["id"])).status_code == 201  # rebuilt from SQL
    await env.platform.audit_writer.drain()
    assert await _sql_draws(env) == 2


async def test_the_redis_client_never_retries_by_itself(env: Env) -> None:
    """A timed-out draw may have run: a silent retry would be a second draw."""
    retry = env.platform.redis.connection_pool.connection_kwargs["retry"]
    assert retry.get_retries() == 0
