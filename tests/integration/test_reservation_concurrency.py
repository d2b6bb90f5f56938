"""Many clients at once against real Redis, then the invariants: never more reservations than
units, nobody above the per-member limit, codes unique, cancel and reserve racing for the last
unit never over-allocate, cancel and redeem racing on one code end in exactly one, SQL = Redis."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime

import sqlalchemy as sa

from reservation.db import reservation_changes, reservations
from tests.conftest import SHANGHAI, Env, reservation_spec

OPENING = datetime(2026, 6, 1, 10, 0, tzinfo=SHANGHAI)  # 4 June opens at 10:00 on 1 June


def hundred_units(**overrides) -> dict:
    return reservation_spec("delivery", reservation={"dates": [{"date": "2026-06-04", "quantity": 100}], **overrides})


async def test_2000_members_at_the_opening_second_get_exactly_100(env: Env) -> None:
    activity = await env.create(hundred_units())
    env.clock.set(OPENING)
    responses = await asyncio.gather(
        *(env.reserve(activity["id"], "2026-06-04", store=None, user=f"fan{i}") for i in range(2000))
    )
    assert Counter(r.status_code for r in responses) == {201: 100, 409: 1900}
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"sold_out"}
    codes = [r.json()["code"] for r in responses if r.status_code == 201]
    assert len(set(codes)) == 100
    await env.platform.audit_writer.drain()
    counters = await env.counters(activity["id"])
    assert counters["pools"] == [{"pool": "2026-06-04|all", "quantity": 100, "left": 0, "held": 100}]
    day = counters["by_date_and_store"][0]
    assert day["reserved"] == day["reserved_in_sql"] == 100
    async with env.platform.engine.connect() as conn:
        rows = (await conn.execute(sa.select(reservations.c.code, reservations.c.user_id))).all()
    assert sorted(code for code, _ in rows) == sorted(codes)
    assert len({user for _, user in rows}) == 100  # one each


async def test_members_sending_many_requests_get_one_each(env: Env) -> None:
    activity = await env.create(hundred_units())
    env.clock.set(OPENING)
    responses = await asyncio.gather(
        *(env.reserve(activity["id"], "2026-06-04", store=None, user=f"fan{i % 60}") for i in range(300))
    )
    made = Counter(r.request.headers["authorization"] for r in responses if r.status_code == 201)
    assert len(made) == 60 and set(made.values()) == {1}  # 5 tries each, one reservation each
    assert {r.json()["code"] for r in responses if r.status_code != 201} == {"user_date_limit"}


async def test_cancel_and_reserve_racing_for_the_last_unit_never_over_allocate(env: Env) -> None:
    """One unit. Round after round its holder cancels while five rivals try to reserve it: at
    most one of them gets it, and the unit is never held twice."""
    activity = await env.create(hundred_units(dates=[{"date": "2026-06-04", "quantity": 1}]))
    env.clock.set(OPENING)

    async def reserve(user: str):
        return await env.reserve(activity["id"], "2026-06-04", store=None, user=user)

    holder = "holder"
    code = (await reserve(holder)).json()["code"]
    for round_ in range(30):
        rivals = [f"rival{round_}-{i}" for i in range(5)]
        cancelled, *attempts = await asyncio.gather(
            env.cancel(activity["id"], code, user=holder), *(reserve(u) for u in rivals)
        )
        assert cancelled.status_code == 200
        winners = [(u, r.json()["code"]) for u, r in zip(rivals, attempts, strict=True) if r.status_code == 201]
        assert len(winners) <= 1
        pool = (await env.counters(activity["id"]))["pools"][0]
        assert pool["left"] >= 0 and pool["left"] + pool["held"] == 1
        if not winners:  # every rival came before the cancel: the unit is free, someone takes it
            late = f"late{round_}"
            winners = [(late, (await reserve(late)).json()["code"])]
        holder, code = winners[0]
    await env.platform.audit_writer.drain()
    async with env.platform.engine.connect() as conn:
        live = reservations.outerjoin(reservation_changes, reservation_changes.c.code == reservations.c.code)
        held = (
            await conn.execute(sa.select(sa.func.count()).select_from(live).where(reservation_changes.c.code.is_(None)))
        ).scalar_one()
    assert held == 1  # SQL agrees: one unit, one live reservation


async def test_cancel_and_redeem_racing_on_one_code_end_in_exactly_one(env: Env) -> None:
    activity = await env.create(hundred_units(cancel_cutoff_hours=0))
    env.clock.set(OPENING)
    made = [(await env.reserve(activity["id"], "2026-06-04", store=None, user=f"r{i}")).json() for i in range(50)]
    env.clock.set(datetime(2026, 6, 4, 15, 0, tzinfo=SHANGHAI))  # the day: cancel and redeem both allowed
    pairs = await asyncio.gather(
        *(
            asyncio.gather(
                env.cancel(activity["id"], m["code"], user=f"r{i}"),
                env.redeem(activity["id"], store=None, code=m["code"]),
            )
            for i, m in enumerate(made)
        )
    )
    outcomes: Counter[str] = Counter()
    for cancelled, redeemed in pairs:
        assert sorted([cancelled.status_code, redeemed.status_code]) == [200, 409]
        outcomes["cancelled" if cancelled.status_code == 200 else "redeemed"] += 1
        loser = redeemed if cancelled.status_code == 200 else cancelled
        assert loser.json()["code"] in ("reservation_cancelled", "reservation_redeemed")
    assert sum(outcomes.values()) == 50
    await env.platform.audit_writer.drain()
    counters = await env.counters(activity["id"])
    assert (counters["cancelled_total"], counters["redeemed_total"]) == (outcomes["cancelled"], outcomes["redeemed"])
    day = counters["by_date_and_store"][0]
    assert (day["cancelled_in_sql"], day["redeemed_in_sql"]) == (outcomes["cancelled"], outcomes["redeemed"])
    assert counters["pools"][0]["left"] == 100 - 50 + outcomes["cancelled"]
