"""Reads of the rollup tables (never of the event tables): sums over a range of local days."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from analytics import db
from analytics.rollup import ALL


class Rollup:
    """The rollups of one activity over the local days `first`..`last` (inclusive)."""

    def __init__(self, engine: AsyncEngine, activity_id: int, first: str, last: str) -> None:
        self.engine = engine
        self.activity_id = activity_id
        self.first, self.last = first, last

    def _where(self, table: sa.Table) -> list[sa.ColumnElement[bool]]:
        return [table.c.activity_id == self.activity_id, table.c.day.between(self.first, self.last)]

    async def _all(self, query: sa.Select[Any]) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            return [dict(row._mapping) for row in (await conn.execute(query)).all()]

    async def daily(
        self, by: Sequence[str] = ("day",), columns: Sequence[str] = db.DAILY_COUNTS, all_channels: bool = True
    ) -> list[dict[str, Any]]:
        """Sums of `columns` grouped by `by` (day, channel, source, variant): over the rows of all
        channels together (`all_channels`), or over the per-channel rows."""
        t = db.daily
        where = [*self._where(t), t.c.channel == ALL if all_channels else t.c.channel != ALL]
        group = [t.c[name] for name in by]
        sums = [sa.func.sum(t.c[name]).label(name) for name in columns]
        query = sa.select(*group, *sums).where(*where).group_by(*group).order_by(*group)
        return [{k: (int(v) if k in columns else v) for k, v in row.items()} for row in await self._all(query)]

    async def prizes(self, by: Sequence[str] = ("prize_id",)) -> list[dict[str, Any]]:
        t = db.prizes
        group = [t.c[name] for name in by]
        sums = [sa.func.sum(t.c[name]).label(name) for name in db.PRIZE_COUNTS]
        query = sa.select(*group, *sums).where(*self._where(t)).group_by(*group).order_by(*group)
        return await self._all(query)

    async def details(self, kinds: Sequence[str], by: Sequence[str] = ("kind", "item")) -> list[dict[str, Any]]:
        t = db.details
        group = [t.c[name] for name in by]
        sums = [sa.func.sum(t.c[name]).label(name) for name in db.DETAIL_COUNTS]
        where = [*self._where(t), t.c.kind.in_(kinds)]
        query = sa.select(*group, *sums).where(*where).group_by(*group).order_by(*group)
        return await self._all(query)

    async def visitors(self, by: Sequence[str] = ("day",)) -> dict[tuple[Any, ...], int]:
        """Unique visitors (HLL estimates persisted per day and channel), summed over `by`."""
        t = db.visitors
        group = [t.c[name] for name in by]
        query = sa.select(*group, sa.func.sum(t.c.visitors).label("n")).where(*self._where(t)).group_by(*group)
        return {tuple(row[name] for name in by): int(row["n"]) for row in await self._all(query)}
