"""SQL access of sign-in activities: marked days (written by the audit writer), the reads a
rebuild, a calendar and the counters need, and the rewards whose delivery must be completed."""

from __future__ import annotations

from datetime import date

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities import db
from checkin.db import checkin_counts, checkin_rewards, checkins
from lottery import db as lottery_db


class MarkRow(msgspec.Struct, kw_only=True):
    mark_id: str
    activity_id: int
    user_id: str
    day: str
    kind: str
    cycle_start: str
    streak: int
    cumulative: int
    rewards: str
    at_ms: int
    stream_id: str


class RewardRow(msgspec.Struct, kw_only=True):
    ref: str
    mark_id: str
    activity_id: int
    user_id: str
    reward_index: int
    type: str
    amount: int | None = None
    coupon: str | None = None
    lottery_id: int | None = None
    prize_id: int | None = None
    at_ms: int


class CheckinRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def marks_of_cycle(self, activity_id: int, cycle_start: date) -> list[MarkRow]:
        return await self._marks(
            checkins.c.activity_id == activity_id, checkins.c.cycle_start == cycle_start.isoformat()
        )

    async def marks_of_member(self, activity_id: int, user_id: str, first: date, last: date) -> list[MarkRow]:
        return await self._marks(
            checkins.c.activity_id == activity_id,
            checkins.c.user_id == user_id,
            checkins.c.day >= first.isoformat(),
            checkins.c.day <= last.isoformat(),
        )

    async def _marks(self, *conditions: sa.ColumnElement[bool]) -> list[MarkRow]:
        query = sa.select(*[checkins.c[name] for name in MarkRow.__struct_fields__]).where(*conditions)
        async with self.engine.connect() as conn:
            return [MarkRow(**row._mapping) for row in (await conn.execute(query)).all()]

    async def counts(self, activity_id: int) -> list[tuple[str, str, int]]:
        """(day, kind, marks) of the activity (checkin_counts, kept by triggers: migration 0019)."""
        table = checkin_counts
        query = sa.select(table.c.day, table.c.kind, table.c.marks).where(table.c.activity_id == activity_id)
        async with self.engine.connect() as conn:
            return [(str(d), str(k), int(n)) for d, k, n in (await conn.execute(query)).all()]

    async def count_between(self, activity_id: int, kind: str, since_ms: int, until_ms: int) -> int:
        """Marks of `kind` made in [since_ms, until_ms) (ix_checkins_activity_kind_at)."""
        query = sa.select(sa.func.count()).where(
            checkins.c.activity_id == activity_id,
            checkins.c.kind == kind,
            checkins.c.at_ms >= since_ms,
            checkins.c.at_ms < until_ms,
        )
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def undelivered_rewards(self, since_ms: int, before_ms: int) -> list[RewardRow]:
        """Rewards granted in [since_ms, before_ms) whose delivery is not in SQL: points without
        their wallet credit, chances without their chance credit, prizes without their grant."""
        ledger, chances, draws = db.points_ledger, lottery_db.chance_ledger, lottery_db.draws
        delivered = sa.or_(
            sa.and_(checkin_rewards.c.type == "points", sa.exists().where(ledger.c.ref == checkin_rewards.c.ref)),
            sa.and_(checkin_rewards.c.type == "chances", sa.exists().where(chances.c.ref == checkin_rewards.c.ref)),
            sa.and_(
                checkin_rewards.c.type == "prize",
                sa.exists().where(draws.c.idempotency_key == checkin_rewards.c.ref, draws.c.kind == "grant"),
            ),
        )
        query = (
            sa.select(*[checkin_rewards.c[name] for name in RewardRow.__struct_fields__])
            .where(
                checkin_rewards.c.type.in_(("points", "chances", "prize")),
                checkin_rewards.c.at_ms >= since_ms,
                checkin_rewards.c.at_ms < before_ms,
                ~delivered,
            )
            .limit(1000)
        )
        async with self.engine.connect() as conn:
            return [RewardRow(**row._mapping) for row in (await conn.execute(query)).all()]
