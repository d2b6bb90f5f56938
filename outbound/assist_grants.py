"""Fulfilment records of assist prizes (助力 gifts, coupons; bargained items), derived by a scan:
an assist's prize is won by the help that completes the initiative, whose stream entry does not
name the initiator, so the record cannot be made in that entry's transaction. Every 30 s the
completions of the last day without a record get one (and their events), through the same rows
as a lottery grant (`GrantProducer.rows`); the unique grant id (the initiative id) makes a second
pass harmless. A completion is durable in SQL before it is scanned: none is missed."""

from __future__ import annotations

from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities import audit_sql, db
from assist.db import assist_initiatives, assist_outcomes
from assist.model import AssistRules
from outbound.db import fulfilments
from outbound.producer import Grant, GrantProducer, PrizeInfo

DAY_MS = 86_400_000


def prize_of(config: Any) -> PrizeInfo | None:
    """What completing an initiative of this assist wins, as a prize."""
    try:
        rules = msgspec.convert(config, AssistRules)
    except (msgspec.ValidationError, TypeError):
        return None
    if rules.prize is not None:
        kind = "coupon" if rules.prize.coupon else "goods"
        return PrizeInfo(type=kind, name=rules.prize.name, value_cny=f"{rules.prize.value_cny:.2f}")
    if rules.item is not None:  # the bargained item, at its floor price
        return PrizeInfo(type="goods", name=rules.item.name, value_cny=f"{rules.item.floor_cny:.2f}")
    return None


async def record_assist_grants(engine: AsyncEngine, producer: GrantProducer, now_ms: int, limit: int = 1000) -> int:
    """Fulfilment records (and events) of the recent completions that have none; returns how many."""
    o, i, f, a = assist_outcomes, assist_initiatives, fulfilments, db.activities
    query = (
        sa.select(o.c.initiative_id, o.c.activity_id, i.c.initiator, o.c.at_ms, a.c.config)
        .select_from(
            o.join(i, i.c.initiative_id == o.c.initiative_id)
            .join(a, a.c.id == o.c.activity_id)
            .outerjoin(f, f.c.grant_id == o.c.initiative_id)
        )
        .where(o.c.outcome == "completed", o.c.at_ms > now_ms - DAY_MS, f.c.id.is_(None))
        .limit(limit)
    )
    async with engine.connect() as conn:
        found = (await conn.execute(query)).all()
    rows: dict[sa.Table, list[dict[str, Any]]] = {}
    prizes: dict[int, PrizeInfo | None] = {}
    for initiative_id, activity_id, initiator, at_ms, config in found:
        if activity_id not in prizes:
            prizes[activity_id] = prize_of(config)
        prize = prizes[activity_id]
        if prize is None or prize.type not in producer.config.external_types:
            continue
        for table, row in producer.rows(Grant(initiative_id, activity_id, initiator, 0, prize, at_ms)):
            rows.setdefault(table, []).append(row)
    await audit_sql.insert_rows(engine, rows)  # ON CONFLICT DO NOTHING: a second pass adds nothing
    return len(rows.get(fulfilments, []))
