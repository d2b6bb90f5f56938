"""A reservation activity's cold rebuild (issue 17), as a lottery's (test_cold_rebuild.py): the
counters from reservation_counts (kept by triggers on both tables, whichever row reaches SQL
first), each member loaded on its first request or when one of its codes is reached; limits,
replays, cancellations, redemptions and the sweep carry on across a flush."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from reservation.db import reservation_changes, reservations
from reservation.keys import ReservationKeys
from reservation.service import ReservationService
from tests.conftest import SHANGHAI, Env, reservation_spec


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 5 if day > 20 else 6, day, hour, 0, tzinfo=SHANGHAI)


async def _flush(env: Env, activity_id: int) -> None:
    """Redis loses everything once the writer wrote everything; the activity is rebuilt and the
    operator gives back the units the rebuild held back (nothing was lost)."""
    await env.platform.audit_writer.drain()
    await env.platform.redis.flushall()
    await env.platform.activities.ensure_loaded(activity_id)
    await env.release_held(activity_id)


def _code(response: Any, status: int = 201) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["code"])


async def test_the_counts_equal_the_rows_grouped_whichever_row_is_written_first(env: Env) -> None:
    activity = await env.create(reservation_spec())
    activity_id = activity["id"]
    env.clock.set(at(31))
    codes = [_code(await env.reserve(activity_id, "2026-06-03", store="S2", user=f"m{i}")) for i in range(4)]
    assert (await env.cancel(activity_id, codes[0], user="m0")).status_code == 200
    await env.platform.audit_writer.drain()
    # A change row written before its reservation row (the writer inserts a step table by table).
    async with env.platform.engine.begin() as conn:
        await conn.execute(
            reservation_changes.insert().values(
                code="EARLYCHANGE1", activity_id=activity_id, status="redeemed", actor="op", at_ms=1, stream_id="1-1"
            )
        )
        await conn.execute(
            reservations.insert().values(
                code="EARLYCHANGE1", activity_id=activity_id, user_id="x", date="2026-06-04", store="S1",
                pool="2026-06-04|S1", purchase="in_store", cancel_until_ms=2, idempotency_key="k",
                fingerprint="f", created_at_ms=1, stream_id="1-0",
            )
        )  # fmt: skip
    repository = env.platform.service(ReservationService).repository
    counted, grouped = await repository.stats(activity_id), await repository.stats_grouped(activity_id)
    assert counted == grouped
    assert counted["2026-06-03|S2|reserved"] == 4 and counted["2026-06-03|S2|cancelled"] == 1
    assert counted["2026-06-04|S1|redeemed"] == 1


async def test_limits_replays_and_codes_carry_on_across_a_flush(env: Env) -> None:
    activity = await env.create(reservation_spec(reservation={"per_user_total": 2}))
    activity_id = activity["id"]
    keys = ReservationKeys(activity_id)
    env.clock.set(at(31))
    first = await env.reserve(activity_id, "2026-06-03", user="held", key="k-held")
    held = _code(first)
    other = _code(await env.reserve(activity_id, "2026-06-03", store="S2", user="other"))
    staff = _code(await env.reserve(activity_id, "2026-06-03", store="S1", user="staff"))
    env.clock.set(at(1))
    total = _code(await env.reserve(activity_id, "2026-06-04", user="held", key="k-total"))  # 2 of 2 in all
    before = await env.counters(activity_id)
    await _flush(env, activity_id)
    assert await env.platform.redis.hget(keys.state, "lazy") not in (None, "0")
    assert not await env.platform.redis.exists(keys.member("held"))
    after = await env.counters(activity_id)
    assert after["pools"] == before["pools"] and after["reservations_total"] == before["reservations_total"]

    # The same request again replays the first reservation; the member's limits hold.
    again = await env.reserve(activity_id, "2026-06-04", user="held", key="k-total")
    assert again.status_code == 201 and again.json()["replayed"] is True and again.json()["code"] == total
    other_request = await env.reserve(activity_id, "2026-06-03", user="held", key="k-total")
    assert other_request.status_code == 422 and other_request.json()["code"] == "idempotency_key_reused"
    refused = await env.reserve(activity_id, "2026-06-04", store="S2", user="held")
    assert refused.status_code == 429 and refused.json()["code"] == "user_date_limit"
    assert await env.platform.redis.hget(keys.member("held"), "t") == "2"  # loaded: what it holds in all
    listed = await env.client.get(f"/activities/{activity_id}/reservations", headers=env.player("held"))
    assert sorted(r["code"] for r in listed.json()["items"]) == sorted([held, total])
    # A code reached first (its member never asked since the flush): cancelled by its member...
    cancelled = await env.cancel(activity_id, other, user="other")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert _code(await env.reserve(activity_id, "2026-06-03", store="S2", user="other")) != other
    # ...or redeemed by store staff; a code SQL never had is not found.
    env.clock.set(at(3, hour=15))
    assert (await env.redeem(activity_id, code=staff)).json()["status"] == "redeemed"
    assert (await env.redeem(activity_id, code="ZZZZZZZZZZZZ")).json()["code"] == "reservation_not_found"
    await env.platform.audit_writer.drain()
    counters = await env.counters(activity_id)
    for row in counters["by_date_and_store"]:
        assert all(row[k] == row[f"{k}_in_sql"] for k in ("reserved", "cancelled", "redeemed", "expired")), row


async def test_the_sweep_expires_the_codes_of_a_rebuilt_date(env: Env) -> None:
    activity = await env.create(reservation_spec())
    activity_id = activity["id"]
    env.clock.set(at(31))
    codes = [_code(await env.reserve(activity_id, "2026-06-03", store="S2", user=f"m{i}")) for i in range(5)]
    env.clock.set(at(1))
    kept = _code(await env.reserve(activity_id, "2026-06-04", store="S2", user="m0"))
    env.clock.set(at(3, hour=12))
    assert (await env.redeem(activity_id, store="S2", code=codes[0])).status_code == 200
    await _flush(env, activity_id)
    env.clock.set(at(4, hour=1))
    assert await env.platform.sweep() == 4  # the date's item: its 4 codes, in one pass
    assert await env.platform.sweep() == 0
    await env.platform.audit_writer.drain()
    counters = await env.counters(activity_id)
    assert (counters["expired_total"], counters["redeemed_total"]) == (4, 1)
    day = next(c for c in counters["by_date_and_store"] if c["store"] == "S2" and c["date"] == "2026-06-03")
    assert (day["expired"], day["expired_in_sql"], day["redeemed_in_sql"]) == (4, 4, 1)
    assert (await env.redeem(activity_id, store="S2", code=codes[1])).json()["code"] == "reservation_expired"
    assert (await env.cancel(activity_id, kept, user="m0")).json()["code"] == "cancel_cutoff_passed"
    env.clock.set(at(5, hour=1))
    assert await env.platform.sweep() == 1  # 4 June's reservation, by its own deadline


async def test_a_crowd_of_cold_members_never_oversells_or_exceeds_a_limit(env: Env) -> None:
    spec = reservation_spec(method="delivery", reservation={"dates": [{"date": "2026-06-03", "quantity": 20}]})
    activity = await env.create(spec)
    activity_id = activity["id"]
    env.clock.set(at(31))
    members = [f"m{i}" for i in range(30)]
    first = {m: await env.reserve(activity_id, "2026-06-03", store=None, user=m, key=f"k-{m}") for m in members[:10]}
    await _flush(env, activity_id)
    answers = await asyncio.gather(
        *[env.reserve(activity_id, "2026-06-03", store=None, user=m, key=f"k-{m}") for m in members for _ in range(3)]
    )
    made = [r.json() for r in answers if r.status_code == 201]
    assert Counter(r["replayed"] for r in made) == {False: 10, True: 30 + 20}  # 20 units: 10 before, 10 after
    replayed = Counter(r["code"] for r in made if r["replayed"])
    assert all(replayed[response.json()["code"]] == 3 for response in first.values())
    assert all(r.json()["code"] == "sold_out" for r in answers if r.status_code == 409)
    await env.platform.audit_writer.drain()
    counters = await env.counters(activity_id)
    assert counters["pools"][0]["left"] == 0 and counters["reservations_total"] == 20
    async with env.platform.engine.connect() as conn:
        count = sa.select(sa.func.count()).select_from(reservations).where(reservations.c.activity_id == activity_id)
        assert (await conn.execute(count)).scalar_one() == 20


async def test_a_state_of_the_layout_before_member_hashes_is_rebuilt_not_trusted(env: Env) -> None:
    """A server upgraded while a reservation activity is live: its state has no `lazy` and its
    members' holdings are in keys the scripts no longer read. The first reserve, cancel or read
    drops that state and rebuilds it from SQL, so a member at its limit stays refused."""
    activity = await env.create(reservation_spec(reservation={"per_user_total": 1}))
    activity_id = activity["id"]
    keys = ReservationKeys(activity_id)
    env.clock.set(at(1))  # 2026-06-03 and 2026-06-04 are open
    held = _code(await env.reserve(activity_id, "2026-06-03", user="held", key="k-held"))
    await env.platform.audit_writer.drain()
    redis = env.platform.redis
    # What the old layout looked like to the new scripts: no `lazy` in the state, no member hash.
    await redis.hdel(keys.state, "lazy")
    await redis.delete(keys.member("held"))
    refused = await env.reserve(activity_id, "2026-06-04", user="held", key="k-again")
    assert refused.status_code == 429 and refused.json()["code"] == "user_total_limit", refused.text
    assert await redis.hget(keys.state, "lazy") not in (None, "0")  # rebuilt (lazily) from SQL
    replay = await env.reserve(activity_id, "2026-06-03", user="held", key="k-held")
    assert replay.status_code in (200, 201) and replay.json()["code"] == held, replay.text
    # The same through a cancel: its member's part is loaded from SQL before the count changes.
    await redis.hdel(keys.state, "lazy")
    await redis.delete(keys.member("held"))
    assert (await env.cancel(activity_id, held, user="held")).status_code == 200
    assert _code(await env.reserve(activity_id, "2026-06-04", user="held", key="k-after")) != held
    refused = await env.reserve(activity_id, "2026-06-03", user="held", key="k-more")
    assert refused.status_code == 429 and refused.json()["code"] == "user_total_limit", refused.text
