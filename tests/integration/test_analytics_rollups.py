"""Rollups = a recount of the events: after random sequences of draws by random members over
several days and channels (and a redelivery of every entry), the counter tables hold what a
GROUP BY over the audit trail finds."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

import sqlalchemy as sa

from analytics import db as adb
from analytics.rollup import Rollups
from lottery import db as ldb
from tests.conftest import Env, wheel


async def _daily(env: Env, activity_id: int, channel: str = "*") -> dict[str, dict[str, int]]:
    t = adb.daily
    query = sa.select(t).where(t.c.activity_id == activity_id, t.c.channel == channel)
    async with env.platform.engine.connect() as conn:
        return {row.day: dict(row._mapping) for row in (await conn.execute(query)).all()}


async def test_rollups_equal_a_recount_of_random_draws(env: Env) -> None:
    rng = random.Random(7)
    activity = await env.create(wheel(limits={}))
    aid = activity["id"]
    for _ in range(3):  # three sequences: each on a later day, random members, random channels
        env.clock.advance(days=rng.randrange(1, 3), hours=rng.random() * 20)
        for _ in range(rng.randrange(5, 25)):
            user = f"u{rng.randrange(12)}"
            response = await env.draw(aid, user=user, json={"channel": rng.choice(["h5", "app"])})
            assert response.status_code == 201, response.text
        await env.platform.audit_writer.drain()
    async with env.platform.engine.connect() as conn:
        draws = (await conn.execute(sa.select(ldb.draws).where(ldb.draws.c.activity_id == aid))).all()
    prizes = {p["id"]: p for p in activity["prizes"]}
    actions: Counter[str] = Counter()
    members: dict[str, set[str]] = defaultdict(set)
    wins: Counter[str] = Counter()
    cost: Counter[str] = Counter()
    first: dict[str, str] = {}
    for d in sorted(draws, key=lambda r: r.drawn_at_ms):
        actions[d.day] += 1
        members[d.day].add(d.user_id)
        first.setdefault(d.user_id, d.day)
        if prizes[d.prize_id]["type"] != "thanks":
            wins[d.day] += 1
        cost[d.day] += int(float(prizes[d.prize_id]["value_cny"]) * 100)
    rollup = await _daily(env, aid)
    assert set(rollup) == set(actions)
    for day, row in rollup.items():
        assert row["actions"] == row["draws"] == actions[day]
        assert row["participants"] == len(members[day])
        assert row["first_timers"] == sum(1 for f in first.values() if f == day)
        assert row["wins"] == wins[day]
        assert row["cost_cents"] == cost[day]
    by_channel = sum(r["actions"] for r in (await _daily(env, aid, "h5")).values())
    by_channel += sum(r["actions"] for r in (await _daily(env, aid, "app")).values())
    by_channel += sum(r["actions"] for r in (await _daily(env, aid, "other")).values())
    assert by_channel == len(draws)


async def test_a_second_delivery_counts_nothing(env: Env) -> None:
    activity = await env.create(wheel(limits={}))
    aid = activity["id"]
    for i in range(6):
        await env.draw(aid, user=f"u{i % 3}")
    store = env.platform.audit_writer.store
    from activities.keys import ActivityKeys

    entries = await store.read_new(ActivityKeys(aid).events, "c1", count=100)
    rollups = Rollups(env.platform.activities.repository, env.platform.engine)
    rows: dict[sa.Table, list[dict[str, object]]] = defaultdict(list)
    for entry_id, fields in entries:
        for table, row in await rollups(aid, entry_id, fields, []):
            rows[table].append(row)
    repository = env.platform.activities.repository
    await repository.insert_rows(rows)
    await repository.insert_rows(rows)  # delivered again after a crash before XACK
    day = next(iter((await _daily(env, aid)).values()))
    assert (day["actions"], day["participants"], day["first_timers"]) == (6, 3, 3)


async def test_channel_and_source_are_stored_with_the_draw(env: Env) -> None:
    activity = await env.create(wheel(limits={}))
    aid = activity["id"]
    assert (await env.draw(aid, user="u1", json={"channel": "mini_program", "source": "wx-moments"})).status_code == 201
    assert (await env.draw(aid, user="u2")).status_code == 201
    bad = await env.draw(aid, user="u3", json={"source": "x" * 65})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_body"
    await env.platform.audit_writer.drain()
    async with env.platform.engine.connect() as conn:
        query = sa.select(ldb.draws.c.user_id, ldb.draws.c.channel, ldb.draws.c.source).order_by(ldb.draws.c.user_id)
        stored = [tuple(r) for r in (await conn.execute(query)).all()]
    assert stored == [("u1", "mini_program", "wx-moments"), ("u2", None, None)]
    by_source = {r["source"]: r for r in (await _channel_rows(env, aid))}
    assert by_source["wx-moments"]["actions"] == 1 and by_source[""]["actions"] == 1


async def _channel_rows(env: Env, activity_id: int) -> list[dict[str, object]]:
    t = adb.daily
    query = sa.select(t).where(t.c.activity_id == activity_id, t.c.channel != "*")
    async with env.platform.engine.connect() as conn:
        return [dict(row._mapping) for row in (await conn.execute(query)).all()]


async def test_a_wallet_entry_with_the_id_of_an_activity_entry_counts_too(env: Env) -> None:
    """A sign-in and the points it grants land in two streams (the activity's, a wallet shard's),
    whose entry ids can be equal (the same millisecond): each counts."""
    from tests.conftest import checkin_spec

    aid = (await env.create(checkin_spec()))["id"]
    at = str(env.clock.now_ms())
    signin = {"type": "checkin", "mark_id": "m1", "user_id": "u1", "kind": "signin", "day": "2026-06-01"}
    signin |= {"cycle_start": "2026-06-01", "streak": "1", "cumulative": "1", "rewards": "0", "at_ms": at}
    points = {
        "type": "points",
        "user_id": "u1",
        "delta": "5",
        "reason": "checkin",
        "activity_id": str(aid),
        "at_ms": at,
    }
    rollups = Rollups(env.platform.activities.repository, env.platform.engine)
    for activity_id, fields in ((aid, signin), (None, points)):  # written in two steps of the writer
        rows: dict[sa.Table, list[dict[str, object]]] = defaultdict(list)
        for table, row in await rollups(activity_id, "1764000000000-0", fields, []):
            rows[table].append(row)
        await env.platform.activities.repository.insert_rows(rows)
    day = next(iter((await _daily(env, aid)).values()))
    assert (day["signins"], day["points_granted"]) == (1, 5)
