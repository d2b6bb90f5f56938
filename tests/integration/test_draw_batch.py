"""Several draws in one EVALSHA (issue 17): lottery/draw.lua run on batches of draws answers
exactly what it answers draw by draw, on the same random inputs, refusals in the middle of a
batch included; and concurrent HTTP draws, grouped by the batcher, keep the invariants."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import redis.asyncio as aioredis
from prometheus_client import REGISTRY

from activities.scripts import ScriptBatcher
from lottery.keys import LotteryKeys
from lottery.store import DrawReply, DrawRequest, DrawStore, Payment
from tests.conftest import Env, wheel
from tests.integration.test_odds_lua import AGREE_DAY

MEMBERS = 12
DRAWS = 300
PAYMENTS: list[Payment] = ["chance_or_free", "chance_or_free", "chance_or_pay", "paid"]


def _spec() -> dict[str, Any]:
    """Every rule a draw checks, with limits small enough to be reached during the run."""
    return wheel(
        limits={"per_user_daily": 12, "per_user_total": 16, "global_daily": 120},
        budget_cny="400",
        prizes=[
            {"name": "Top", "type": "goods", "weight": 40, "stock": 4, "value_cny": 100},
            {"name": "Daily", "type": "coupon", "weight": 150, "stock": 40, "daily_stock": 9, "value_cny": 5},
            {"name": "Capped", "type": "coupon", "weight": 150, "stock": 60, "per_user_cap": 1},
            {"name": "Late", "type": "coupon", "weight": 100, "stock": 30, "unlock_after_draws": 4},
            {
                "name": "Paced",
                "type": "coupon",
                "weight": 100,
                "stock": 30,
                "release": {"per": "hour", "units": 6, "rollover": False},
            },
            {"name": "Thanks", "type": "thanks", "weight": 460},
        ],
        pity={"after": 3, "prizes": [0, 1]},
    )


def _inputs(env: Env, activity_id: int, rng: random.Random) -> list[DrawRequest]:
    """Random draws: fresh keys, replays (same key, same request), mismatches (same key, another
    request), stale versions, A/B weights and values, the three ways to pay."""
    now = env.clock.now_ms()
    made: list[DrawRequest] = []
    for n in range(DRAWS):
        user = f"m{rng.randrange(MEMBERS)}"
        earlier = [r for r in made if r.user_id == user]
        key, fingerprint = f"k{n}", f"f{n}"
        roll = rng.random()
        if earlier and roll < 0.08:  # the same request again
            key, fingerprint = earlier[-1].idempotency_key, earlier[-1].fingerprint
        elif earlier and roll < 0.12:  # the same key, another request
            key = rng.choice(earlier).idempotency_key
        variant = rng.random() < 0.2
        made.append(
            DrawRequest(
                activity_id=activity_id,
                user_id=user,
                draw_id=f"d{n}",
                rand=rng.getrandbits(32),
                now_ms=now + n,
                day=AGREE_DAY,
                day_ttl_ms=86_400_000,
                fingerprint=fingerprint,
                idempotency_key=key,
                idempotency_ttl_s=3600,
                payment=rng.choice(PAYMENTS),
                weights="10,10,10,10,10,50" if variant else "",
                values="2000,100,0,0,0,0" if variant else "",
                variant="B" if variant else "",
                version="999" if rng.random() < 0.04 else "",
            )
        )
    return made


async def _keys(redis: aioredis.Redis, activity_id: int) -> list[str]:
    return sorted([key async for key in redis.scan_iter(match=f"{{act:{activity_id}}}*", count=1000)])


async def _snapshot(env: Env, activity_id: int) -> dict[str, bytes]:
    url = env.platform.settings.redis_url
    assert url is not None
    raw = aioredis.Redis.from_url(url)  # DUMP answers bytes
    dumped: dict[str, bytes] = {}
    try:
        for key in await _keys(env.platform.redis, activity_id):
            value = await raw.dump(key)
            assert value is not None
            dumped[key] = value
    finally:
        await raw.aclose()
    return dumped


async def _restore(redis: aioredis.Redis, activity_id: int, dumped: dict[str, bytes]) -> None:
    await redis.delete(*await _keys(redis, activity_id))
    for key, value in dumped.items():
        await redis.restore(key, 0, value)


async def _state(redis: aioredis.Redis, activity_id: int) -> dict[str, Any]:
    """Every key of the activity: hashes whole, the stream's entries (their fields, in order)."""
    state: dict[str, Any] = {}
    for key in await _keys(redis, activity_id):
        kind = await redis.type(key)
        if kind == "hash":
            state[key] = await redis.hgetall(key)
        elif kind == "stream":
            entries = await redis.xrange(key)
            state[key] = [fields for _, fields in entries or []]
        else:
            state[key] = (kind, await redis.get(key) if kind == "string" else None)
    return state


async def _evalsha_calls(redis: aioredis.Redis) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


async def test_batched_draws_answer_what_single_draws_answer(env: Env) -> None:
    """The same random draws run once one call each and once in batches of random sizes (one
    EVALSHA a batch): the same replies, the same counters, stock, pity and idempotency records,
    the same stream entries. Stock runs out, caps, daily stock, the release plan, the budget, the
    per-member and global limits are reached, and members not loaded are refused mid-batch."""
    activity = await env.create(_spec())
    activity_id = activity["id"]
    redis = env.platform.redis
    keys = LotteryKeys(activity_id)
    rng = random.Random(17)
    single = DrawStore(ScriptBatcher(redis, group=False))
    batched = DrawStore(ScriptBatcher(redis, max_group=64))
    # Chances for some members, earlier draws of others, a lazy load where one member is not
    # loaded yet.
    for m in range(0, MEMBERS, 3):
        assert (
            await single.credit_chances(activity_id, f"m{m}", 4, f"r{m}", "test", env.clock.now_ms(), 60)
        ).kind == "ok"
    await redis.hset(keys.state, "lazy", "load-1")
    await redis.hset(keys.members, mapping={f"m{m}": 1 for m in range(MEMBERS) if m != 5})
    await redis.hset(keys.user_total, mapping={"m1": 10, "m2": 12})  # draws of earlier days
    requests = _inputs(env, activity_id, rng)
    before = await _snapshot(env, activity_id)

    one_by_one = [await single.draw(request) for request in requests]
    after_single = await _state(redis, activity_id)

    await _restore(redis, activity_id, before)
    in_batches: list[DrawReply] = []
    batches, start = 0, 0
    calls_before = await _evalsha_calls(redis)
    while start < len(requests):
        size = rng.choice([1, 2, 3, 7, 16, 40, 64])
        chunk = requests[start : start + size]
        in_batches += await asyncio.gather(*(batched.draw(request) for request in chunk))
        batches, start = batches + 1, start + size
    assert await _evalsha_calls(redis) - calls_before == batches  # one EVALSHA a batch
    after_batches = await _state(redis, activity_id)

    kinds = Counter(r.kind if r.kind != "refused" else r.code for r in one_by_one)
    for needed in ("ok", "replay", "mismatch", "member_not_loaded", "stale_version", "payment_required"):
        assert kinds[needed], kinds
    for needed in ("user_daily_limit", "user_total_limit", "global_daily_limit"):
        assert kinds[needed], kinds
    won = Counter(r.record.prize_id for r in one_by_one if r.kind == "ok" and r.record)
    top = activity["prizes"][0]["id"]
    assert won[top] == 4  # the stock ran out during the run
    assert in_batches == one_by_one
    assert after_batches == after_single


async def test_concurrent_http_draws_grouped_keep_the_invariants(env: Env) -> None:
    """Draws sent at once over HTTP share EVALSHAs (far fewer calls than draws), and still never
    oversell, never pass a member's limit, and SQL ends equal to Redis."""
    users, per_user, top_stock, clients = 30, 6, 25, 240
    spec = wheel(
        limits={"per_user_daily": per_user},
        prizes=[
            {"name": "Top", "type": "goods", "weight": 500, "stock": top_stock},
            {"name": "Thanks", "type": "thanks", "weight": 500},
        ],
    )
    activity = await env.create(spec)
    top = activity["prizes"][0]["id"]
    # A draw each first, one at a time (members are loaded on their first request).
    first = [await env.draw(activity["id"], user=f"b{i}") for i in range(users)]
    assert all(r.status_code == 201 for r in first)
    calls_before = await _evalsha_calls(env.platform.redis)
    carried_before = REGISTRY.get_sample_value("promo_script_group_calls_sum") or 0.0
    responses = await asyncio.gather(*(env.draw(activity["id"], user=f"b{i % users}") for i in range(clients)))
    calls = await _evalsha_calls(env.platform.redis) - calls_before
    carried = (REGISTRY.get_sample_value("promo_script_group_calls_sum") or 0.0) - carried_before
    assert carried == clients  # every draw, refused ones included, went through a group (the metric)
    statuses = Counter(r.status_code for r in responses)
    drawn = users * (per_user - 1)
    assert statuses == {201: drawn, 429: clients - drawn}, statuses
    assert calls < clients / 2, calls  # grouped: far fewer EVALSHAs than draws
    wins = [r.json() for r in first + responses if r.status_code == 201]
    assert Counter(w["prize"]["id"] for w in wins)[top] == top_stock
    assert len({w["draw_id"] for w in wins}) == len(wins)
    await env.platform.audit_writer.drain()
    counters = await env.counters(activity["id"])
    assert counters["draws_in_sql"] == counters["draws_total"] == users * per_user
    for prize in counters["prizes"]:
        assert prize["granted_in_sql"] == prize["granted"], prize


def _request(activity_id: int, n: int, env: Env) -> DrawRequest:
    return DrawRequest(
        activity_id=activity_id,
        user_id=f"u{n}",
        draw_id=f"g{n}",
        rand=n * 7919,
        now_ms=env.clock.now_ms(),
        day=AGREE_DAY,
        day_ttl_ms=86_400_000,
        fingerprint="f",
        idempotency_key=f"g{n}",
        idempotency_ttl_s=60,
    )


async def test_a_group_after_a_script_flush_is_sent_again_whole(env: Env) -> None:
    """NOSCRIPT (Redis restarted or flushed its scripts): the group did not run; it is sent with
    its source, once, and every draw of it answers."""
    activity = await env.create(wheel(limits={}))
    store = DrawStore(ScriptBatcher(env.platform.redis))
    await env.platform.redis.script_flush()
    replies = await asyncio.gather(*(store.draw(_request(activity["id"], n, env)) for n in range(20)))
    assert [r.kind for r in replies] == ["ok"] * 20
    assert (await env.counters(activity["id"]))["draws_total"] == 20


async def test_a_script_error_fails_every_draw_of_its_group_and_no_other(env: Env) -> None:
    """A draw whose script fails (here: a key of the wrong type) fails its whole group, like a
    lost connection fails a pipeline; another activity's group in the same tick answers."""
    broken, fine = (await env.create(wheel(limits={})))["id"], (await env.create(wheel(limits={})))["id"]
    await env.platform.redis.delete(LotteryKeys(broken).chances)
    await env.platform.redis.set(LotteryKeys(broken).chances, "not a hash")
    store = DrawStore(ScriptBatcher(env.platform.redis))
    draws = [store.draw(_request(broken, n, env)) for n in range(5)]
    draws += [store.draw(_request(fine, n, env)) for n in range(5)]
    outcomes = await asyncio.gather(*draws, return_exceptions=True)
    assert all(isinstance(o, Exception) and "WRONGTYPE" in str(o) for o in outcomes[:5]), outcomes[:5]
    assert all(isinstance(o, DrawReply) and o.kind == "ok" for o in outcomes[5:]), outcomes[5:]
