"""Bucketed stock (库存分桶, lottery/buckets.py): a lottery's live state spread over K slots.
Many clients at once against real Redis, then the invariants: never above the stock, every unit
run out exactly, SQL equal to Redis, every acknowledged draw in SQL once; a bucket emptied while
others have stock falls over to them. Each test takes only `env`: tests/integration/test_cluster.py
runs them unchanged on the 3-node cluster, where the buckets live on different nodes."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from activities.keys import bucket_of
from lottery import db as lottery_db
from lottery.buckets import split, split_used
from lottery.keys import LotteryKeys
from tests.conftest import Env, wheel

K = 4


def _members(bucket: int, k: int, count: int, prefix: str = "m") -> list[str]:
    """`count` member ids whose bucket is `bucket` of `k`."""
    found: list[str] = []
    i = 0
    while len(found) < count:
        if bucket_of(f"{prefix}{i}", k) == bucket:
            found.append(f"{prefix}{i}")
        i += 1
    return found


async def _sql_draws(env: Env, activity_id: int) -> list[Any]:
    async with env.platform.engine.connect() as conn:
        query = sa.select(lottery_db.draws.c.draw_id, lottery_db.draws.c.prize_id)
        return list((await conn.execute(query.where(lottery_db.draws.c.activity_id == activity_id))).all())


async def test_bucketed_stock_never_oversells_and_runs_out_exactly(env: Env) -> None:
    top_stock = 101  # not a multiple of K: the remainder goes to the first buckets
    spec = wheel(
        limits={"per_user_daily": 20, "global_daily": 1000},
        stock_buckets=K,
        prizes=[
            # Picked about half the time: demand (~250) far above the stock.
            {"name": "Top", "type": "goods", "weight": 500, "stock": top_stock, "value_cny": 3000},
            {"name": "Capped", "type": "coupon", "weight": 300, "stock": 10_000, "per_user_cap": 3},
            {"name": "Thanks", "type": "thanks", "weight": 200},
        ],
    )
    activity = await env.create(spec)
    activity_id = activity["id"]
    top_id, capped_id, _ = (p["id"] for p in activity["prizes"])
    users = [f"user{i}" for i in range(50)]
    assert len({bucket_of(u, K) for u in users}) == K

    responses = await asyncio.gather(
        *(env.draw(activity_id, user=users[i % len(users)], key=f"c{i}") for i in range(500))
    )
    assert Counter(r.status_code for r in responses) == {201: 500}
    wins = [r.json() for r in responses]
    won = Counter(w["prize"]["id"] for w in wins)
    assert won[top_id] == top_stock  # every unit, never more: the buckets fell over to each other
    capped = Counter(r.request.headers["authorization"] for r in responses if r.json()["prize"]["id"] == capped_id)
    assert max(capped.values()) <= 3  # a member's cap is exact (a member lives in one bucket)

    counters = await env.counters(activity_id)
    top = next(p for p in counters["prizes"] if p["prize_id"] == top_id)
    assert (top["granted"], top["stock_left"]) == (top_stock, 0)
    assert counters["draws_total"] == counters["draws_today"] == 500
    keys = [LotteryKeys(activity_id, b) for b in range(K)]
    drawn = [int(await env.platform.redis.hget(k.state, "draws_total") or 0) for k in keys]
    assert all(n > 0 for n in drawn) and sum(drawn) == 500  # every bucket served its members

    await env.platform.audit_writer.drain()
    counters = await env.counters(activity_id)
    assert counters["audit_backlog"] == 0 and counters["draws_in_sql"] == counters["draws_total"] == 500
    for prize in counters["prizes"]:
        assert prize["granted_in_sql"] == prize["granted"], prize
    rows = await _sql_draws(env, activity_id)
    assert sorted(r.draw_id for r in rows) == sorted(w["draw_id"] for w in wins)  # each once
    assert Counter(r.prize_id for r in rows)[top_id] == top_stock


async def test_an_empty_bucket_falls_over_to_the_others(env: Env) -> None:
    """Members of one bucket win every unit, most of them held by the other buckets; then the
    prize is out everywhere (consolation, the mark set); stock added reaches every bucket."""
    stock = 10
    spec = wheel(
        limits={},
        stock_buckets=K,
        prizes=[
            {"name": "Top", "type": "goods", "weight": 2_000_000, "stock": stock},  # always picked
            {"name": "Thanks", "type": "thanks", "weight": 1},
        ],
    )
    activity = await env.create(spec)
    activity_id = activity["id"]
    top_id, thanks_id = (p["id"] for p in activity["prizes"])
    redis = env.platform.redis
    keys = [LotteryKeys(activity_id, b) for b in range(K)]
    assert [int(await redis.hget(k.stock, str(top_id)) or 0) for k in keys] == split(stock, K) == [3, 3, 2, 2]

    members = _members(1, K, stock + 3)
    results = [(await env.draw(activity_id, user=m)).json()["prize"]["id"] for m in members]
    assert results == [top_id] * stock + [thanks_id] * 3
    assert [int(await redis.hget(k.stock, str(top_id)) or 0) for k in keys] == [0] * K
    assert await redis.hget(keys[1].state, f"out:{top_id}") == "1"

    # Concurrent members of every bucket meet empty buckets at once: still never above the stock.
    added = await env.client.post(
        f"/operator/activities/{activity_id}/prizes/{top_id}/stock", json={"units": 40}, headers=env.operator()
    )
    assert added.status_code == 200, added.text
    assert [int(await redis.hget(k.stock, str(top_id)) or 0) for k in keys] == split(40, K)
    assert [await redis.hget(k.state, f"out:{top_id}") for k in keys] == [None] * K
    crowd = _members(3, K, 30, prefix="c") + _members(0, K, 30, prefix="d")
    responses = await asyncio.gather(*(env.draw(activity_id, user=m) for m in crowd))
    won = Counter(r.json()["prize"]["id"] for r in responses)
    assert won == {top_id: 40, thanks_id: 20}
    await env.platform.audit_writer.drain()
    counters = await env.counters(activity_id)
    top = next(p for p in counters["prizes"] if p["prize_id"] == top_id)
    assert top["granted"] == top["granted_in_sql"] == stock + 40 and top["stock_left"] == 0


async def test_bucketed_lottery_rebuilds_after_a_flush(env: Env) -> None:
    """After a flush the rebuild splits what SQL says is left over the buckets again (held back
    until the operator's word, as with one bucket), and the rest still runs out exactly."""
    spec = wheel(
        limits={"per_user_daily": 50, "global_daily": 1000},
        stock_buckets=3,
        prizes=[
            {"name": "Top", "type": "goods", "weight": 500, "stock": 30},
            {"name": "Daily", "type": "coupon", "weight": 300, "stock": 1000, "daily_stock": 20},
            {"name": "Thanks", "type": "thanks", "weight": 200},
        ],
    )
    activity = await env.create(spec)
    activity_id = activity["id"]
    top_id, daily_id, _ = (p["id"] for p in activity["prizes"])
    before = await asyncio.gather(*(env.draw(activity_id, user=f"u{i % 9}", key=f"b{i}") for i in range(40)))
    assert all(r.status_code == 201 for r in before)
    await env.platform.audit_writer.drain()
    counters_before = await env.counters(activity_id)

    await env.platform.redis.flushall()
    replay = await env.draw(activity_id, user="u0", key="b0")  # answered from its member's bucket
    assert replay.status_code == 201 and replay.json()["draw_id"] == before[0].json()["draw_id"]
    await env.release_held(activity_id)
    rebuilt = await env.counters(activity_id)
    assert rebuilt["loaded"] and rebuilt["draws_total"] == 40 and rebuilt["draws_today"] == 40
    for old, new in zip(counters_before["prizes"], rebuilt["prizes"], strict=True):
        assert (old["granted"], old["stock_left"], old["granted_today"]) == (
            new["granted"],
            new["stock_left"],
            new["granted_today"],
        )

    after = await asyncio.gather(*(env.draw(activity_id, user=f"n{i % 30}", key=f"a{i}") for i in range(300)))
    assert all(r.status_code == 201 for r in after)
    await env.platform.audit_writer.drain()
    final = await env.counters(activity_id)
    by_id = {p["prize_id"]: p for p in final["prizes"]}
    assert by_id[top_id]["granted"] == by_id[top_id]["granted_in_sql"] == 30 and by_id[top_id]["stock_left"] == 0
    assert by_id[daily_id]["granted_today"] <= 20  # the split daily stock never exceeds the day's
    assert final["draws_in_sql"] == final["draws_total"] == 340


async def test_global_daily_cap_is_split_and_never_exceeded(env: Env) -> None:
    activity = await env.create(wheel(limits={"global_daily": 37}, stock_buckets=K))
    responses = await asyncio.gather(*(env.draw(activity["id"], user=f"g{i}") for i in range(160)))
    statuses = Counter(r.status_code for r in responses)
    # Each bucket holds its share (10, 9, 9, 9): at most 37 in all, fewer if a bucket's members
    # were too few to use its share (160 members over 4 buckets use every share here).
    assert statuses[201] <= 37 and statuses[201] + statuses[429] == 160
    assert {r.json()["code"] for r in responses if r.status_code == 429} == {"global_daily_limit"}
    assert statuses[201] == 37


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"stock_buckets": 0}, "stock_buckets_invalid"),
        ({"stock_buckets": 17}, "stock_buckets_invalid"),
        ({"stock_buckets": 4, "limits": {"global_daily": 3}}, "stock_buckets_cap_too_small"),
        ({"stock_buckets": 4, "budget_cny": "100"}, "stock_buckets_unsupported"),
    ],
)
async def test_stock_buckets_is_bounded(env: Env, overrides: dict[str, Any], code: str) -> None:
    spec = wheel(**overrides)
    if "budget_cny" in overrides:
        spec["prizes"][2]["value_cny"] = 0
    response = await env.client.post("/operator/activities", json=spec, headers=env.operator())
    assert response.status_code == 422 and response.json()["code"] == code, response.text


async def test_stock_buckets_shows_to_operators_and_survives_an_edit(env: Env) -> None:
    created = await env.create(wheel(stock_buckets=3), publish=False)
    edited = await env.client.patch(
        f"/operator/activities/{created['id']}", json={"name": "Edited"}, headers=env.operator()
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["stock_buckets"] == 3


async def test_bucketed_draws_verify(env: Env) -> None:
    """`promo verify` over a bucketed lottery whose stock and daily stock run out in some buckets
    first: every draw recomputed (the number, the pick; the win or the fallback of a limited
    prize); a prize altered in SQL is still found."""
    from lottery.fairness_service import Fairness
    from lottery.service import DrawService

    spec = wheel(
        limits={},
        stock_buckets=3,
        prizes=[
            {"name": "Top", "type": "goods", "weight": 400, "stock": 25},
            {"name": "Daily", "type": "coupon", "weight": 300, "stock": 1000, "daily_stock": 30},
            {"name": "Free", "type": "coupon", "weight": 100, "stock": 1000},
            {"name": "Thanks", "type": "thanks", "weight": 200},
        ],
    )
    activity = await env.create(spec)
    activity_id = activity["id"]
    responses = await asyncio.gather(*(env.draw(activity_id, user=f"v{i % 40}") for i in range(200)))
    assert all(r.status_code == 201 for r in responses)
    await env.platform.audit_writer.drain()
    draws = env.platform.service(DrawService)
    report = await Fairness(draws).report(await draws.activities.get(activity_id))
    assert report.ok and report.draws == report.verified == 200, report.differing[:2]
    free_id = activity["prizes"][2]["id"]
    row = next(r for r in await _sql_draws(env, activity_id) if r.prize_id == free_id)
    async with env.platform.engine.begin() as conn:
        table = lottery_db.draws
        await conn.execute(
            sa.update(table).where(table.c.draw_id == row.draw_id).values(prize_id=activity["prizes"][0]["id"])
        )
    report = await Fairness(draws).report(await draws.activities.get(activity_id))
    assert not report.ok and row.draw_id in {d.draw_id for d in report.differing}


def test_split_and_split_used() -> None:
    assert split(10, 4) == [3, 3, 2, 2] and split(0, 3) == [0, 0, 0] and split(2, 4) == [1, 1, 0, 0]
    for cap, used, k in [(37, 0, 4), (37, 12, 4), (37, 37, 4), (20, 25, 3), (100, 99, 16)]:
        counts = split_used(cap, used, k)
        assert sum(counts) == used
        left = [share - n for share, n in zip(split(cap, k), counts, strict=True)]
        assert left == split(cap - used, k) or used > cap


def test_bucket_tags_spread_round_the_slot_space() -> None:
    """Bucket 0 keeps the activity's tag; K buckets' slots land in K distinct K-ths of the slot
    space (from bucket 0's), so over the nodes of a cluster, whatever the activity."""
    from redis.crc import key_slot

    from activities.keys import tag

    assert tag(7) == "{act:7}" and LotteryKeys(7, 0).state == "{act:7}:state"
    assert LotteryKeys(7, 3).state.startswith("{act:7:b3~")
    for activity_id in range(1, 60):
        for k in (2, 4, 8):
            first = key_slot(tag(activity_id).encode())
            parts = {((key_slot(tag(activity_id, b).encode()) - first) % 16384) * k // 16384 for b in range(k)}
            assert parts == set(range(k)), (activity_id, k)


async def test_status_and_window_reach_every_bucket(env: Env) -> None:
    """Pausing refuses the members of every bucket; resuming and a later end reach them all."""
    activity = await env.create(wheel(stock_buckets=K, limits={}))
    activity_id = activity["id"]
    members = [_members(b, K, 1, prefix="s")[0] for b in range(K)]
    paused = await env.client.post(f"/operator/activities/{activity_id}/pause", headers=env.operator())
    assert paused.status_code == 200, paused.text
    answers = [await env.draw(activity_id, user=m) for m in members]
    assert {(r.status_code, r.json()["code"]) for r in answers} == {(409, "activity_not_live")}
    resumed = await env.client.post(f"/operator/activities/{activity_id}/resume", headers=env.operator())
    assert resumed.status_code == 200, resumed.text
    assert [(await env.draw(activity_id, user=m)).status_code for m in members] == [201] * K
    later = {"ends_at": "2026-08-01T00:00:00+08:00"}
    extended = await env.client.patch(f"/operator/activities/{activity_id}/window", json=later, headers=env.operator())
    assert extended.status_code == 200, extended.text
    ends = [await env.platform.redis.hget(LotteryKeys(activity_id, b).state, "ends_at_ms") for b in range(K)]
    assert ends == [str(int(datetime.fromisoformat(later["ends_at"]).timestamp() * 1000))] * K


def _units(counters: dict[str, Any]) -> int:
    return sum(p["stock_left"] + p["granted"] for p in counters["prizes"] if p["stock"] is not None)


async def test_a_bucket_lost_alone_rebuilds_every_bucket(env: Env) -> None:
    """One bucket's state gone (its stream kept: no data lost) rebuilds every bucket from SQL,
    exactly; one bucket's state and stream gone (a node lost its data) rebuilds failing closed."""
    activity = await env.create(wheel(stock_buckets=3, limits={}))
    activity_id = activity["id"]
    redis = env.platform.redis
    assert all(r.status_code == 201 for r in [await env.draw(activity_id, user=f"p{i}") for i in range(30)])
    await env.platform.audit_writer.drain()
    before = await env.counters(activity_id)

    await redis.delete(LotteryKeys(activity_id, 2).state)
    member = _members(2, 3, 1, prefix="q")[0]
    assert (await env.draw(activity_id, user=member)).status_code == 201
    after = await env.counters(activity_id)
    assert after["loaded"] and after["draws_total"] == 31
    assert _units(after) == _units(before)  # left + granted of the limited prizes: nothing lost or made
    recovery = await env.client.get(f"/operator/activities/{activity_id}/recovery", headers=env.operator())
    assert recovery.json()["recovering"] is False, recovery.text  # the publication's load only

    await env.platform.audit_writer.drain()
    keys = LotteryKeys(activity_id, 1)
    await redis.delete(keys.state, keys.events, keys.stock)
    member = _members(1, 3, 1, prefix="r")[0]
    assert (await env.draw(activity_id, user=member)).status_code == 201
    recovery = await env.client.get(f"/operator/activities/{activity_id}/recovery", headers=env.operator())
    assert recovery.status_code == 200 and recovery.json()["recovering"] is True, recovery.text
