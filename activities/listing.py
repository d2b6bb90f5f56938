"""The keyset queries behind the paginated lists (activities/pages.py): newest first, `limit`
rows strictly after the key the previous page ended at. Never OFFSET."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities import db
from activities.pages import Key
from activities.repository import PointsRow

S = TypeVar("S", bound=msgspec.Struct)


async def points_history(
    engine: AsyncEngine, user_id: str, limit: int, after: Key | None
) -> list[tuple[int, PointsRow]]:
    """A member's ledger, newest first: (row id, row) pairs, `limit` of them strictly after the
    keyset `after` = (at_ms, id) (activities/pages.py)."""
    ledger = db.points_ledger
    return await newest_first(engine, ledger, PointsRow, ledger.c.at_ms, [ledger.c.user_id == user_id], limit, after)


async def activity_ids(engine: AsyncEngine, limit: int, after: Key | None) -> list[int]:
    """Activity ids, newest first, `limit` of them below the keyset `after` = (id,)."""
    query = sa.select(db.activities.c.id).order_by(db.activities.c.id.desc()).limit(limit)
    if after is not None:
        query = query.where(db.activities.c.id < after[0])
    async with engine.connect() as conn:
        return [int(r[0]) for r in (await conn.execute(query)).all()]


async def newest_first(
    engine: AsyncEngine,
    table: sa.Table,
    shape: type[S],
    at: sa.Column[Any],
    where: list[sa.ColumnElement[bool]],
    limit: int,
    after: Key | None,
) -> list[tuple[int, S]]:
    """(row id, row as `shape`) pairs of `table` matching `where`, newest first by (at, id),
    `limit` of them strictly after the keyset `after`."""
    query = sa.select(table.c.id, *[table.c[name] for name in shape.__struct_fields__]).where(*where)
    if after is not None:
        query = query.where(_before(at, table.c.id, after))
    query = query.order_by(at.desc(), table.c.id.desc()).limit(limit)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [(int(row.id), shape(**{k: v for k, v in row._mapping.items() if k != "id"})) for row in rows]


def _before(at: sa.Column[Any], id_: sa.Column[Any], after: Key) -> sa.ColumnElement[bool]:
    """Rows after the keyset `after` = (at, id) in (at desc, id desc) order."""
    return sa.or_(at < after[0], sa.and_(at == after[0], id_ < after[1]))
