"""A sign-in activity's cold rebuild (issue 17), as a lottery's (test_cold_rebuild.py): counters
from checkin_counts (kept by triggers on checkins and checkin_rewards), each member's marks of
the current cycle loaded on its first request after the rebuild."""

from __future__ import annotations

import asyncio
from collections import Counter

import sqlalchemy as sa

from checkin import db
from checkin.keys import CheckinKeys
from checkin.service import CheckinService
from tests.conftest import Env, checkin_spec


async def _flush(env: Env) -> None:
    await env.platform.audit_writer.drain()
    await env.platform.redis.flushall()


async def test_checkin_counts_equal_the_marks_and_rewards_counted(env: Env) -> None:
    activity = await env.create(checkin_spec())
    for user in ("a", "b", "c"):
        assert (await env.sign_in(activity["id"], user=user)).status_code == 201
    env.clock.advance(days=1)
    assert (await env.sign_in(activity["id"], user="a")).status_code == 201
    await env.platform.audit_writer.drain()
    repository = env.platform.service(CheckinService).repository
    totals: Counter[str] = Counter()
    for _, kind, marks in await repository.counts(activity["id"]):
        totals[kind] += marks
    async with env.platform.engine.connect() as conn:
        by_kind = sa.select(db.checkins.c.kind, sa.func.count()).group_by(db.checkins.c.kind)
        stored = {str(k): int(n) for k, n in (await conn.execute(by_kind)).all()}
        rewards = (await conn.execute(sa.select(sa.func.count()).select_from(db.checkin_rewards))).scalar_one()
    assert totals == Counter({"signin": stored["signin"], "reward": rewards}) and totals["signin"] == 4


async def test_members_keep_their_marks_streaks_and_makeups_across_a_flush(env: Env) -> None:
    activity = await env.create(checkin_spec())
    activity_id = activity["id"]
    keys = CheckinKeys(activity_id)
    assert (await env.sign_in(activity_id, user="today")).status_code == 201
    assert (await env.sign_in(activity_id, user="streak")).status_code == 201
    env.clock.advance(days=1)
    assert (await env.sign_in(activity_id, user="today")).status_code == 201
    first = await env.sign_in(activity_id, user="today")
    assert first.json()["replayed"] is True
    before = await env.counters(activity_id)
    await _flush(env)
    await env.platform.activities.ensure_loaded(activity_id)
    assert await env.platform.redis.hlen(keys.members) == 0
    assert await env.platform.redis.hget(keys.state, "lazy") not in (None, "0")

    # Signed in today before the flush: the same sign-in again; nothing counted twice.
    again = await env.sign_in(activity_id, user="today")
    assert again.json()["replayed"] is True and again.json()["mark_id"] == first.json()["mark_id"]
    after = await env.counters(activity_id)
    assert (after["signins_total"], after["rewards_total"]) == (before["signins_total"], before["rewards_total"])
    # Signed in yesterday: today's sign-in carries the streak on.
    streak = await env.sign_in(activity_id, user="streak")
    assert streak.status_code == 201 and streak.json()["streak"] == 2
    assert sorted(await env.platform.redis.hkeys(keys.members)) == ["streak", "today"]
    # The calendar of a member Redis has not seen since the flush is SQL's.
    calendar = await env.calendar(activity_id, user="today")
    assert calendar["streak"] == 2


async def test_a_crowd_of_cold_members_signs_in_once_each(env: Env) -> None:
    activity = await env.create(checkin_spec())
    activity_id = activity["id"]
    members = [f"m{i}" for i in range(30)]
    for member in members[:15]:
        assert (await env.sign_in(activity_id, user=member)).status_code == 201
    await _flush(env)
    answers = await asyncio.gather(*[env.sign_in(activity_id, user=m) for m in members for _ in range(3)])
    assert all(r.status_code == 201 for r in answers)
    assert Counter(r.json()["replayed"] for r in answers) == {False: 15, True: 75}
    await env.platform.audit_writer.drain()
    counters = await env.counters(activity_id)
    assert counters["signins_total"] == counters["signins_in_sql"] == 30


async def test_the_cycle_hash_always_has_its_expiry(env: Env) -> None:
    """mark.lua sets the cycle hash's expiry only with the day's first mark: a load creates the
    hash with its expiry, since today's counters may already be there after it."""
    activity = await env.create(checkin_spec())
    activity_id = activity["id"]
    keys = CheckinKeys(activity_id)
    redis = env.platform.redis

    async def cycle_ttl_ms() -> int:
        """The shortest time to live of the cycle hashes (-1: one has none)."""
        cycles = [key async for key in redis.scan_iter(match=keys.key("cycle", "*"))]
        assert cycles
        return min([int(await redis.pttl(key)) for key in cycles])

    assert (await env.sign_in(activity_id, user="first")).status_code == 201
    assert await cycle_ttl_ms() > 0
    assert (await env.sign_in(activity_id, user="second")).status_code == 201
    await _flush(env)
    await env.platform.activities.ensure_loaded(activity_id)
    assert await cycle_ttl_ms() > 0  # created by the load, today's counters beside it
    assert (await env.sign_in(activity_id, user="third")).status_code == 201  # not the day's first
    assert await cycle_ttl_ms() > 0
    env.clock.advance(days=1)
    assert (await env.sign_in(activity_id, user="first")).status_code == 201
    assert await cycle_ttl_ms() > 0
