"""An assist activity's cold rebuild (issue 17), as a lottery's (test_cold_rebuild.py): totals
from assist_counts and the open initiatives' deadlines from assist_open (kept by triggers,
whichever row reaches SQL first); members, initiatives, and the rebuild day's devices and
addresses loaded when first reached. Caps, open initiatives, helps already given and the sweep
carry on across a flush."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import sqlalchemy as sa

from assist.db import assist_initiatives, assist_open, assist_outcomes
from assist.keys import AssistKeys
from assist.service import AssistService
from tests.conftest import Env, assist_spec


async def _flush(env: Env, activity_id: int) -> None:
    """Redis loses everything once the writer wrote everything; the activity is rebuilt and the
    operator gives back the units the rebuild held back (nothing was lost)."""
    await env.platform.audit_writer.drain()
    await env.platform.redis.flushall()
    await env.platform.activities.ensure_loaded(activity_id)
    await env.release_held(activity_id)


def _ok(response: Any, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    found: dict[str, Any] = response.json()
    return found


def _refused(response: Any, code: str) -> None:
    assert response.json().get("code") == code, response.text


async def test_the_counts_and_open_initiatives_equal_the_rows_whichever_row_comes_first(env: Env) -> None:
    activity = await env.create(
        assist_spec(assist={"helper_reward": {"reward": {"type": "points", "points": 1}, "stock": 5}})
    )
    activity_id = activity["id"]
    tokens = [_ok(await env.start(activity_id, f"u{i}"))["share_token"] for i in range(3)]
    for helper in ("f1", "f2", "f3"):
        _ok(await env.help(tokens[0], helper))  # completes u0's
    _ok(await env.help(tokens[1], "f1"))
    await env.platform.audit_writer.drain()
    # An outcome written before its initiative (the writer inserts a step table by table).
    async with env.platform.engine.begin() as conn:
        await conn.execute(
            assist_outcomes.insert().values(
                initiative_id="i-early", activity_id=activity_id, outcome="expired", at_ms=1, stream_id="1-1"
            )
        )
        await conn.execute(
            assist_initiatives.insert().values(
                initiative_id="i-early", activity_id=activity_id, initiator="x", needed=3, started_at_ms=1,
                deadline_ms=2, stream_id="1-0",
            )
        )  # fmt: skip
    repository = env.platform.service(AssistService).repository
    assert await repository.totals(activity_id) == await repository.totals_grouped(activity_id)
    totals = await repository.totals(activity_id)
    assert (totals.initiatives, totals.helps, totals.completed, totals.expired) == (4, 4, 1, 1)
    async with env.platform.engine.connect() as conn:
        still_open = (await conn.execute(sa.select(assist_open.c.initiator))).scalars().all()
    assert sorted(still_open) == ["u1", "u2"]


async def test_caps_open_initiatives_and_helps_carry_on_across_a_flush(env: Env) -> None:
    caps = {"helps_per_helper_daily": 2, "helps_per_device_daily": 2}
    activity = await env.create(assist_spec("bargain", assist={"helps_needed": 4, "anti_abuse": caps}))
    activity_id = activity["id"]
    keys = AssistKeys(activity_id)
    mine = _ok(await env.start(activity_id, "u1"))
    token = mine["share_token"]
    others = [_ok(await env.start(activity_id, f"o{i}"))["share_token"] for i in range(3)]
    first = _ok(await env.help(token, "f1", device="d1"))
    _ok(await env.help(others[0], "f1", device="d9"))  # f1: 2 of 2 today
    _ok(await env.help(others[1], "f2", device="d1"))  # d1: 2 of 2 today
    before = await env.counters(activity_id)
    await _flush(env, activity_id)
    assert await env.platform.redis.hget(keys.state, "lazy") not in (None, "0")
    assert await env.platform.redis.hlen(keys.members) == 0
    assert await env.platform.redis.zcard(keys.deadlines) == 0  # added by the next sweep
    assert await env.platform.service(AssistService).sweep() == 0
    assert await env.platform.redis.zcard(keys.deadlines) == 4
    assert await env.platform.redis.hget(keys.state, "deadlines_pending") is None
    after = await env.counters(activity_id)
    assert {k: after[k] for k in ("stock_left", "initiatives_total", "helps_total", "open")} == {
        k: before[k] for k in ("stock_left", "initiatives_total", "helps_total", "open")
    }

    # The same start answers the member's open initiative; helps given stay given; the caps hold.
    again = (await env.start(activity_id, "u1")).json()
    assert again["initiative_id"] == mine["initiative_id"] and again["replayed"] is True
    _refused(await env.help(token, "f1", device="d5"), "already_helped")
    _refused(await env.help(others[2], "f1", device="d5"), "helper_daily_limit")
    _refused(await env.help(others[2], "f3", device="d1"), "device_daily_limit")
    view = _ok(await env.client.get(f"/assists/{token}"), 200)
    assert (view["helps"], view["price_cny"]) == (1, first["price_cny"])
    last = [_ok(await env.help(token, f, device=f"d-{f}")) for f in ("f3", "f4", "f5")][-1]
    assert last["completed"] is True and last["price_cny"] == "9.90"
    await env.platform.audit_writer.drain()
    counters = await env.counters(activity_id)
    for name in ("initiatives", "completed", "expired", "helps", "helper_rewards"):
        assert counters[f"{name}_total"] == counters[f"{name}_in_sql"], name


async def test_the_sweep_expires_open_initiatives_after_a_flush(env: Env) -> None:
    spec = assist_spec(assist={"hours": 2, "prize": {"name": "Gift", "stock": 3, "value_cny": "49"}})
    activity = await env.create(spec)
    activity_id = activity["id"]
    first = _ok(await env.start(activity_id, "u1"))
    _ok(await env.start(activity_id, "u2"))
    _ok(await env.help(first["share_token"], "f1"))
    await _flush(env, activity_id)
    service = env.platform.service(AssistService)
    assert await service.sweep() == 0
    env.clock.advance(hours=2)
    assert await service.sweep() == 2
    assert await service.sweep() == 0
    counters = await env.counters(activity_id)
    assert (counters["stock_left"], counters["expired_total"], counters["open"]) == (3, 2, 0)
    assert _ok(await env.client.get(f"/assists/{first['share_token']}"), 200)["status"] == "expired"
    _refused(await env.start(activity_id, "u1"), "initiative_limit")  # one per member, across the flush
    _ok(await env.start(activity_id, "u3"))  # the stock came back
    await env.platform.audit_writer.drain()
    assert (await env.counters(activity_id))["expired_in_sql"] == 2


async def test_a_crowd_of_cold_helpers_never_exceeds_a_cap_or_helps_twice(env: Env) -> None:
    caps = {"helps_per_helper_daily": 1, "helps_per_device_daily": 3}
    activity = await env.create(assist_spec(assist={"helps_needed": 50, "anti_abuse": caps}))
    activity_id = activity["id"]
    tokens = [_ok(await env.start(activity_id, f"u{i}"))["share_token"] for i in range(2)]
    for i in range(5):
        _ok(await env.help(tokens[0], f"f{i}", device=f"d{i % 2}"))  # d0: 3 (capped), d1: 2
    await _flush(env, activity_id)
    answers = await asyncio.gather(
        *[env.help(tokens[i % 2], f"f{j}", device=f"d{j % 2}") for j in range(10) for i in range(2) for _ in range(2)]
    )
    accepted = [r for r in answers if r.status_code == 201]
    assert len(accepted) == 1  # d0 is at its cap; d1 has one help left; f0..f4 helped today already
    codes = Counter(r.json()["code"] for r in answers if r.status_code != 201)
    assert set(codes) <= {"already_helped", "helper_daily_limit", "device_daily_limit"}
    await env.platform.audit_writer.drain()
    counters = await env.counters(activity_id)
    assert counters["helps_total"] == counters["helps_in_sql"] == 6
