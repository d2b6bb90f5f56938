"""The draw's cheaper Redis work (issue 17), against real Redis: idempotency records as fields of
a per-day hash that expires once (replays still answered across midnight and after a flush,
never past the window), day keys that expire without a PEXPIRE per draw, and events without
their default fields that still become the same SQL rows."""

from __future__ import annotations

from datetime import date, datetime

from activities.clock import day_end_ms, to_ms
from activities.service import IDEMPOTENCY_TTL_S
from lottery.keys import LotteryKeys
from lottery.service import DrawService
from lottery.store import DrawRequest
from tests.conftest import SHANGHAI, Env, wheel

TODAY = date(2026, 6, 1)


async def test_a_replay_after_midnight_answers_the_first_draw(env: Env) -> None:
    """A draw at 23:59:30 local time, its retry at 00:00:30: the record is in yesterday's hash."""
    activity = await env.create(wheel())
    env.clock.set(datetime(2026, 6, 1, 23, 59, 30, tzinfo=SHANGHAI))
    first = await env.draw(activity["id"], key="late")
    env.clock.advance(minutes=1)
    again = await env.draw(activity["id"], key="late")
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == {**first.json(), "replayed": True}
    other = await env.draw(activity["id"], key="late", json={"channel": "app"})
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert (await env.counters(activity["id"]))["draws_total"] == 1


async def test_day_keys_and_the_records_hash_expire(env: Env) -> None:
    """Each day key gets its expiry when the day's first draw creates it; the records of the
    day live the idempotency window past the day's end."""
    activity = await env.create(wheel(limits={"per_user_daily": 3, "global_daily": 100}))
    for user in ("u1", "u2", "u1"):
        assert (await env.draw(activity["id"], user=user)).status_code == 201
    keys, redis = LotteryKeys(activity["id"]), env.platform.redis
    now_ms = env.clock.now_ms()
    for key in (keys.day(TODAY), keys.user_day(TODAY), keys.draws_done(TODAY)):
        assert await redis.pttl(key) > 0, key
    expected = day_end_ms(TODAY, SHANGHAI) + IDEMPOTENCY_TTL_S * 1000 - now_ms
    assert abs(await redis.pttl(keys.draws_done(TODAY)) - expected) < 5_000
    assert await redis.hlen(keys.draws_done(TODAY)) >= 3


async def test_a_flush_keeps_replays_and_the_records_hash_expiry(env: Env) -> None:
    """After a flush the rebuild recreates today's records hash with its expiry (the day's draws
    count already, so no first draw would set it) and the member loader restores the record."""
    activity = await env.create(wheel())
    first = await env.draw(activity["id"], key="before")
    await env.platform.audit_writer.drain()
    await env.platform.redis.flushall()
    await env.platform.activities.ensure_loaded(activity["id"])
    await env.release_held(activity["id"])
    # Another member first (nothing of it in SQL, so its load restores no record).
    assert (await env.draw(activity["id"], user="u2", key="after")).status_code == 201
    keys = LotteryKeys(activity["id"])
    assert await env.platform.redis.pttl(keys.draws_done(TODAY)) > 0
    again = await env.draw(activity["id"], key="before")
    assert again.status_code == 201 and again.json() == {**first.json(), "replayed": True}


async def test_a_record_older_than_the_window_is_a_new_draw(env: Env) -> None:
    """The per-day hash outlives some records; the script still replays only within the window."""
    activity = await env.create(wheel(limits={}))
    store = env.platform.service(DrawService).store
    now_ms = to_ms(datetime(2026, 6, 1, 12, 0, tzinfo=SHANGHAI))

    def request(draw_id: str, at_ms: int) -> DrawRequest:
        return DrawRequest(
            activity_id=activity["id"],
            user_id="u1",
            draw_id=draw_id,
            rand=5,
            now_ms=at_ms,
            day=TODAY,
            day_ttl_ms=86_400_000,
            fingerprint="f",
            idempotency_key="k",
            idempotency_ttl_s=60,
        )

    assert (await store.draw(request("d1", now_ms))).kind == "ok"
    replay = await store.draw(request("d2", now_ms + 59_000))
    assert replay.kind == "replay" and replay.record is not None and replay.record.draw_id == "d1"
    fresh = await store.draw(request("d3", now_ms + 61_000))
    assert fresh.kind == "ok" and fresh.record is not None and fresh.record.draw_id == "d3"
    # And the new record replays in turn (it replaced the old one in today's hash).
    replay = await store.draw(request("d4", now_ms + 62_000))
    assert replay.kind == "replay" and replay.record is not None and replay.record.draw_id == "d3"
