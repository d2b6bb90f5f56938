"""The keyset queries behind the paginated lists (activities/pages.py): newest first, `limit`
rows strictly after the key the previous page ended at. Never OFFSET."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities import db
from activities.pages import Key
from activities.repository import DrawRow, PointsRow


async def points_history(
    engine: AsyncEngine, user_id: str, limit: int, after: Key | None
) -> list[tuple[int, PointsRow]]:
    """A member's ledger, newest first: (row id, row) pairs, `limit` of them strictly after the
    keyset `after` = (at_ms, id) (activities/pages.py)."""
    ledger = db.points_ledger
    query = sa.select(ledger.c.id, *[ledger.c[name] for name in PointsRow.__struct_fields__]).where(
        ledger.c.user_id == user_id
    )
    if after is not None:
        query = query.where(_before(ledger.c.at_ms, ledger.c.id, after))
    query = query.order_by(ledger.c.at_ms.desc(), ledger.c.id.desc()).limit(limit)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [(int(row.id), PointsRow(**{k: v for k, v in row._mapping.items() if k != "id"})) for row in rows]


async def draws_of(
    engine: AsyncEngine, activity_id: int | None, user_id: str, limit: int, after: Key | None
) -> list[tuple[int, DrawRow]]:
    """A member's draws, newest first: (row id, row) pairs, `limit` of them strictly after the
    keyset `after` = (drawn_at_ms, id) (activities/pages.py)."""
    draws = db.draws
    query = sa.select(draws.c.id, *[draws.c[name] for name in DrawRow.__struct_fields__]).where(
        draws.c.user_id == user_id
    )
    if activity_id is not None:
        query = query.where(draws.c.activity_id == activity_id)
    if after is not None:
        query = query.where(_before(draws.c.drawn_at_ms, draws.c.id, after))
    query = query.order_by(draws.c.drawn_at_ms.desc(), draws.c.id.desc()).limit(limit)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [(int(row.id), DrawRow(**{k: v for k, v in row._mapping.items() if k != "id"})) for row in rows]


async def activity_ids(engine: AsyncEngine, limit: int, after: Key | None) -> list[int]:
    """Activity ids, newest first, `limit` of them below the keyset `after` = (id,)."""
    query = sa.select(db.activities.c.id).order_by(db.activities.c.id.desc()).limit(limit)
    if after is not None:
        query = query.where(db.activities.c.id < after[0])
    async with engine.connect() as conn:
        return [int(r[0]) for r in (await conn.execute(query)).all()]


def _before(at: sa.Column[Any], id_: sa.Column[Any], after: Key) -> sa.ColumnElement[bool]:
    """Rows after the keyset `after` = (at, id) in (at desc, id desc) order."""
    return sa.or_(at < after[0], sa.and_(at == after[0], id_ < after[1]))
